from django.apps import AppConfig


class OperatorConfig(AppConfig):
    name = "franchise_platform.operator"
    label = "operator_console"
    verbose_name = "Operator console"
