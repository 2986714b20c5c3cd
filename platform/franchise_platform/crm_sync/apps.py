from django.apps import AppConfig


class CrmSyncConfig(AppConfig):
    name = "franchise_platform.crm_sync"
    label = "crm_sync"
    default_auto_field = "django.db.models.BigAutoField"
