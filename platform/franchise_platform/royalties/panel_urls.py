"""/panel/royalties/…, included into the panel's URL conf (names join the `panel` namespace)."""

from django.urls import path

from . import panel_views as views

urlpatterns = [
    path("", views.royalty_overview, name="royalties"),
    path("draft/", views.royalty_draft, name="royalty_draft"),
    path("rules/<str:partner_id>/", views.royalty_rule_edit, name="royalty_rule"),
    path("statements/<str:statement_id>/", views.statement_detail, name="royalty_statement"),
    path(
        "statements/<str:statement_id>/approve/",
        views.statement_approve_view,
        name="royalty_statement_approve",
    ),
    path(
        "statements/<str:statement_id>/redraft/",
        views.statement_redraft,
        name="royalty_statement_redraft",
    ),
    path(
        "statements/<str:statement_id>/send/",
        views.statement_send_view,
        name="royalty_statement_send",
    ),
    path(
        "statements/<str:statement_id>/export.<str:fmt>",
        views.statement_export,
        name="royalty_statement_export",
    ),
    path("summary/", views.summary_preference, name="summary_preference"),
]
