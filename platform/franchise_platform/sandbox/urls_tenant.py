from django.urls import path

from . import pay

urlpatterns = [
    path("sandbox/pay/", pay.payment_page, name="sandbox-pay"),
    path(
        "callbacks/dummy/<uuid:partner_id>/result/",
        pay.dummy_result,
        name="sandbox-dummy-result",
    ),
]
