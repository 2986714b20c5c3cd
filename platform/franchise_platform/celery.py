"""The Celery app. Tasks carry their network's schema (tenant-schemas-celery); see tasks.py."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "franchise_platform.settings.dev")

from tenant_schemas_celery.app import CeleryApp


class PlatformCelery(CeleryApp):
    pass


app = PlatformCelery("franchise_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_default_queue = "default"
app.autodiscover_tasks(
    [
        "franchise_platform",
        "franchise_platform.payments",
        "franchise_platform.crm_sync",
        "franchise_platform.network",
        "tenants",
    ]
)
