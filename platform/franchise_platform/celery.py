"""The Celery app. Tasks carry their network's schema (tenant-schemas-celery); see tasks.py."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "franchise_platform.settings.dev")

from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections
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


def _connections_like_a_request(sender: object = None, **_: object) -> None:
    """Before and after each task, what Django does around a web request: drop a connection that
    is broken or older than CONN_MAX_AGE, keep the rest. Celery's Django fixup would otherwise
    close every connection around every task (see CELERY_DB_REUSE_MAX in settings). Not for a
    task run eagerly: it runs inside its caller, whose transaction must stay open."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    close_old_connections()


task_prerun.connect(_connections_like_a_request, weak=False, dispatch_uid="fp_db_prerun")
task_postrun.connect(_connections_like_a_request, weak=False, dispatch_uid="fp_db_postrun")
