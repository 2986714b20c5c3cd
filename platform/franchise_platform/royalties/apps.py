from django.apps import AppConfig


class RoyaltiesConfig(AppConfig):
    name = "franchise_platform.royalties"
    label = "royalties"
    default_auto_field = "django.db.models.BigAutoField"
