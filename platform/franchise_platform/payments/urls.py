from django.urls import path

from . import views

urlpatterns = [
    path("pay/<str:token>", views.pay, name="pay"),
    path(
        "callbacks/robokassa/<uuid:partner_id>/result/",
        views.robokassa_result,
        name="robokassa-result",
    ),
    path(
        "callbacks/robokassa/<uuid:partner_id>/success/",
        views.robokassa_success,
        name="robokassa-success",
    ),
    path(
        "callbacks/robokassa/<uuid:partner_id>/fail/", views.robokassa_fail, name="robokassa-fail"
    ),
    # Every registered provider (Robokassa's own paths above keep working as they are).
    path(
        "callbacks/<slug:provider>/<uuid:partner_id>/notification/",
        views.provider_notification,
        name="provider-notification",
    ),
    path(
        "callbacks/<slug:provider>/<uuid:partner_id>/success/",
        views.provider_success,
        name="provider-success",
    ),
    path(
        "callbacks/<slug:provider>/<uuid:partner_id>/return-status/",
        views.provider_return_status,
        name="provider-return-status",
    ),
    path(
        "callbacks/<slug:provider>/<uuid:partner_id>/fail/",
        views.provider_fail,
        name="provider-fail",
    ),
]
