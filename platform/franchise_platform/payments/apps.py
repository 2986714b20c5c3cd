from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "franchise_platform.payments"
    label = "payments"
    default_auto_field = "django.db.models.BigAutoField"
