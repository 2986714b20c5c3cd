"""/panel/ on a network host. The login flow (accounts) shares the namespace: settings name
`panel:login` and `panel:home`."""

from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import set_language

from franchise_platform.accounts.urls import urlpatterns as account_urls

from .views import (
    claim,
    dashboard,
    deals,
    export_jobs,
    exports,
    home,
    integrations,
    locations,
    partners,
    payments,
    provider_connect,
    receipts,
    refunds,
    stages,
    team,
)

app_name = "panel"

urlpatterns = [
    *account_urls,
    path("", home.home, name="home"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("language/", set_language, name="set_language"),
    path("partners/", partners.partner_list, name="partner_list"),
    path("partners/new/", partners.partner_create, name="partner_create"),
    path("partners/check-inn/", partners.partner_check_inn, name="partner_check_inn"),
    path("partners/<str:partner_id>/", partners.partner_detail, name="partner_detail"),
    path("partners/<str:partner_id>/edit/", partners.partner_edit, name="partner_edit"),
    path("partners/<str:partner_id>/toggle/", partners.partner_toggle, name="partner_toggle"),
    path("partners/<str:partner_id>/delete/", partners.partner_delete, name="partner_delete"),
    path(
        "partners/<str:partner_id>/shop-check/",
        partners.partner_shop_check,
        name="partner_shop_check",
    ),
    path(
        "partners/<str:partner_id>/provider-connect/finish/",
        provider_connect.provider_connect_finish,
        name="provider_connect_finish",
    ),
    path(
        "partners/<str:partner_id>/provider-connect/<slug:provider>/",
        provider_connect.provider_connect_start,
        name="provider_connect_start",
    ),
    path("locations/", locations.location_list, name="location_list"),
    path("locations/new/", locations.location_create, name="location_create"),
    path("locations/<str:location_id>/edit/", locations.location_edit, name="location_edit"),
    path("locations/<str:location_id>/toggle/", locations.location_toggle, name="location_toggle"),
    path("locations/<str:location_id>/delete/", locations.location_delete, name="location_delete"),
    path("deals/", deals.deal_list, name="deal_list"),
    path("deals/export.csv", exports.deal_export, name="deal_export"),
    path("deals/export.xlsx", exports.deal_export_xlsx, name="deal_export_xlsx"),
    path("deals/<str:deal_id>/", deals.deal_detail, name="deal_detail"),
    path(
        "deals/<str:deal_id>/payments/<str:payment_id>/refund/",
        refunds.payment_refund,
        name="payment_refund",
    ),
    path(
        "deals/<str:deal_id>/payments/<str:payment_id>/refund-cabinet/",
        refunds.payment_refund_cabinet,
        name="payment_refund_cabinet",
    ),
    path("deals/<str:deal_id>/delivered/", receipts.deal_delivered, name="deal_delivered"),
    path("payments/", payments.payment_list, name="payment_list"),
    path("payments/receipts/", receipts.receipts_attention, name="receipts_attention"),
    path("payments/export.csv", exports.payment_export, name="payment_export"),
    path("payments/export.xlsx", exports.payment_export_xlsx, name="payment_export_xlsx"),
    path("exports/<str:job_id>/", export_jobs.export_job, name="export_job"),
    path("exports/<str:job_id>/status/", export_jobs.export_job_status, name="export_job_status"),
    path(
        "exports/<str:job_id>/download/",
        export_jobs.export_job_download,
        name="export_job_download",
    ),
    path("integrations/", integrations.integrations, name="integrations"),
    path("integrations/claim/", claim.claim, name="claim"),
    path("integrations/crm/", integrations.crm_choose, name="crm_choose"),
    path("integrations/amocrm/connect/", integrations.amocrm_connect, name="amocrm_connect"),
    path("integrations/amocrm/replace/", integrations.amocrm_replace, name="amocrm_replace"),
    path("integrations/amocrm/finish/", integrations.amocrm_finish, name="amocrm_finish"),
    path("integrations/amocrm/fields/", integrations.crm_field_map, name="crm_field_map"),
    path(
        "integrations/amocrm/pipelines/refresh/",
        stages.crm_pipelines_refresh_view,
        name="crm_pipelines_refresh",
    ),
    path(
        "integrations/amocrm/pipelines/location-source/",
        stages.crm_location_source_view,
        name="crm_location_source",
    ),
    path(
        "integrations/amocrm/pipelines/<str:pipeline_id>/",
        stages.crm_stage_map_view,
        name="crm_stage_map",
    ),
    path(
        "integrations/outbox/retry-all/",
        integrations.outbox_retry_all,
        name="outbox_retry_all",
    ),
    path(
        "integrations/outbox/<str:message_id>/retry/",
        integrations.outbox_retry,
        name="outbox_retry",
    ),
    path("settings/", home.settings_page, name="settings"),
    path("team/", team.team, name="team"),
    path("tokens/", home.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", home.token_revoke, name="token_revoke"),
    path("audit/", home.audit, name="audit"),
    path("royalties/", include("franchise_platform.royalties.panel_urls")),
]

root_redirect = RedirectView.as_view(pattern_name="panel:home", permanent=False)
