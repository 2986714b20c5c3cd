"""migrate_schemas that also keeps the template schema (TENANT_BASE_SCHEMA) current.

New networks are cloned from that schema instead of being migrated from scratch, so it must exist and
carry every migration; it has no Network row, so it never appears in any listing.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import connection
from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand
from django_tenants.migration_executors import get_executor
from django_tenants.utils import schema_exists
from psycopg2 import sql

from franchise_platform.db import schema_to_public
from tenants.citus import (
    citus_active,
    citus_migrations_prepare,
    local_schema_creation,
    network_schemas_distribute_missing,
    schema_drop,
    schema_is_distributed,
)
from tenants.models import Network
from tenants.template import template_snapshot_refresh

logger = logging.getLogger(__name__)


class Command(MigrateSchemasCommand):
    def handle(self, *args: Any, **options: Any) -> None:
        # On Citus (detected, tenants/citus.py) the migrations' DDL takes the forms Citus accepts.
        on_citus = citus_migrations_prepare()
        super().handle(*args, **options)
        if self.sync_tenant and not options.get("schema_name"):
            template_schema_sync(self.executor, self.args, self.options)
            if on_citus:
                networks_distribute(self)


def networks_distribute(command: MigrateSchemasCommand) -> None:
    """Every network's tables on one worker, also for networks made before Citus was there."""

    schemas = Network.objects.customers().values_list("schema_name", flat=True)
    for schema in network_schemas_distribute_missing([s for s in schemas if schema_exists(s)]):
        command.stdout.write(f"distributed the schema {schema}")


def template_schema_sync(executor_name: str | None, args: Any, options: dict[str, Any]) -> None:
    template = settings.TENANT_BASE_SCHEMA
    # The template stays on the coordinator even where Citus distributes new schemas: pg_dump's
    # snapshot of it is replayed locally and distributed only as a network's schema. One that an
    # older run let Citus distribute cannot come back (citus_schema_undistribute refuses identity
    # columns) and pg_dump would miss its rows on the worker; it holds no data, so it is rebuilt.
    if citus_active() and schema_exists(template) and schema_is_distributed(template):
        logger.warning("the template schema %s was distributed: rebuilding it locally", template)
        schema_drop(template)
    if not schema_exists(template):
        with local_schema_creation(), connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("CREATE SCHEMA {}")
                .format(sql.Identifier(template))
                .as_string(cursor.cursor)
            )
    # The parallel executors need tenant rows; the template has none, so it goes standard.
    options = {**options, "schema_name": template}
    get_executor(codename="standard")(args, options).run_migrations(tenants=[template])
    schema_to_public()
    template_snapshot_refresh()
