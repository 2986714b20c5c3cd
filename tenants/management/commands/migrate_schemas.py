"""migrate_schemas that also keeps the template schema (TENANT_BASE_SCHEMA) current.

New networks are cloned from that schema instead of being migrated from scratch, so it must exist and
carry every migration; it has no Network row, so it never appears in any listing.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand
from django_tenants.utils import schema_exists
from psycopg2 import sql

from franchise_platform.db import schema_to_public
from tenants.template import template_snapshot_refresh


class Command(MigrateSchemasCommand):
    def handle(self, *args: Any, **options: Any) -> None:
        super().handle(*args, **options)
        if self.sync_tenant and not options.get("schema_name"):
            template_schema_sync(self.executor, self.args, self.options)


def template_schema_sync(executor_name: str | None, args: Any, options: dict[str, Any]) -> None:
    from django_tenants.migration_executors import get_executor

    template = settings.TENANT_BASE_SCHEMA
    if not schema_exists(template):
        with connection.cursor() as cursor:
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
