"""Task bases and the platform-wide periodic tasks.

Every task that touches a network's data derives from NetworkTask: it runs in the schema it was
queued from (tenant-schemas-celery puts the schema in the message headers) and REFUSES to run
without one; it never falls back to the public schema. Platform tasks (fan-out sweepers) are
marked explicitly with PlatformTask.
"""

from __future__ import annotations

import logging
import platform as std_platform
from typing import Any

from celery import shared_task
from django.db import connection
from django_tenants.utils import tenant_context
from tenant_schemas_celery.task import TenantTask

from franchise_platform.db import schema_name

logger = logging.getLogger(__name__)


class NetworkMissing(RuntimeError):
    """A network task was started without a network."""


class NetworkTask(TenantTask):
    abstract = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if schema_name() == "public":
            logger.error("task %s refused: no network in its message", self.name)
            raise NetworkMissing(f"{self.name} must run inside a network's schema.")
        return super().__call__(*args, **kwargs)


class PlatformTask(TenantTask):
    """Runs on the public schema on purpose (iterates networks)."""

    abstract = True


@shared_task(base=NetworkTask, name="franchise_platform.whoami", ignore_result=False)
def whoami(marker: str) -> dict[str, str | int]:
    """Diagnostic task: which schema it saw, that the standard `platform` module is intact, and
    which PostgreSQL backend served it (one database read, as a web request's floor makes)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    return {
        "schema": schema_name(),
        "marker": marker,
        "system": std_platform.system(),
        "db_backend": backend,
    }


@shared_task(base=PlatformTask, name="franchise_platform.sweep_all_networks")
def sweep_all_networks() -> int:
    """Fan out the per-network sweeper (inbox and outbox rows whose message was lost)."""
    # local: task body; tasks modules stay import-light so that services import them at the top
    from tenants.selectors import networks_active

    count = 0
    for network in networks_active():
        with tenant_context(network):
            sweep_network.delay()
        count += 1
    return count


@shared_task(base=NetworkTask, name="franchise_platform.sweep_network")
def sweep_network() -> None:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from franchise_platform.sweeper import network_sweep

    network_sweep()


@shared_task(base=PlatformTask, name="franchise_platform.reconcile_all_networks")
def reconcile_all_networks() -> int:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from tenants.selectors import networks_active

    count = 0
    for network in networks_active():
        with tenant_context(network):
            reconcile_network.delay()
        count += 1
    return count


@shared_task(base=NetworkTask, name="franchise_platform.reconcile_network")
def reconcile_network() -> None:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from franchise_platform.sweeper import network_reconcile

    network_reconcile()
