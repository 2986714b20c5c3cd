"""Citus schema-based sharding: each network's schema is one distributed schema, all of its tables
on one node, the application talking only to the coordinator.

Measured against Citus 12.1 on PostgreSQL 15 with `citus.enable_schema_based_sharding = on`: a
schema created while the setting is on is distributed at once, and Citus then refuses DDL it cannot
propagate — Django's `ADD COLUMN ... CHECK`, pg_dump's `ALTER COLUMN ... ADD GENERATED ... AS
IDENTITY` — while django-tenants' catalog clone "succeeds" and leaves every table on the
coordinator. What works, and what this module does:

- the template schema stays a plain schema on the coordinator (created with the setting off);
- a network's schema is built the same way, with the setting off for that transaction only, and
  then handed to `citus_schema_distribute`, which moves all of its tables to one worker as one
  colocation group (foreign keys between them keep working, queries route to that worker);
- `migrate_schemas` adds a column's CHECK as its own `ADD CONSTRAINT` (citus_schema_editor), and
  distributes any network schema left undistributed (one made before Citus was there).

Citus is detected from the database itself (the extension and at least one worker), never
configured by hand: the same code runs on plain PostgreSQL, where every function here is a no-op.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from django.db import connection, transaction
from psycopg2 import sql

logger = logging.getLogger(__name__)

# citus_schema_distribute and the schema-based sharding setting arrived in Citus 12.0.
MIN_MAJOR = 12


def citus_version() -> str | None:
    """The installed Citus extension's version ("12.1-1"), or None on plain PostgreSQL."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'citus'")
        row = cursor.fetchone()
    return str(row[0]) if row else None


def _major(version: str) -> int:
    head = version.split(".", 1)[0]
    return int(head) if head.isascii() and head.isdigit() else 0


def citus_active() -> bool:
    """True when networks' schemas are to be distributed: Citus >= 12 with a worker to hold them."""
    version = citus_version()
    if version is None:
        return False
    if _major(version) < MIN_MAJOR:
        logger.warning("Citus %s has no schema-based sharding: schemas stay local", version)
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM citus_get_active_worker_nodes()")
        workers = int(cursor.fetchone()[0])
    return workers > 0


@contextlib.contextmanager
def local_schema_creation() -> Iterator[None]:
    """A transaction in which CREATE SCHEMA makes a plain (coordinator) schema even where the
    cluster distributes new schemas by default; the setting returns at the transaction's end."""
    with transaction.atomic():
        if citus_version() is not None:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('citus.enable_schema_based_sharding', 'off', true)"
                )
        yield


def schema_is_distributed(schema_name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_dist_schema WHERE schemaid = to_regnamespace(%s)", [schema_name]
        )
        return cursor.fetchone() is not None


def schema_distribute(schema_name: str) -> None:
    """Move every table of the schema to one worker (one colocation group)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT citus_schema_distribute(%s::regnamespace)", [schema_name])
    logger.info("schema %s distributed", schema_name)


def schema_drop(schema_name: str) -> None:
    """Drop a schema whatever it holds (the template, which `migrate_schemas` rebuilds)."""
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("DROP SCHEMA {} CASCADE")
            .format(sql.Identifier(schema_name))
            .as_string(cursor.cursor)
        )


def schema_nodes(schema_name: str) -> list[tuple[str, int]]:
    """The nodes holding the schema's shards: one for a distributed schema, none for a local one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT shards.nodename, shards.nodeport FROM citus_shards shards "
            "JOIN citus_schemas schemas USING (colocation_id) "
            "WHERE schemas.schema_name = to_regnamespace(%s) ORDER BY 1, 2",
            [schema_name],
        )
        return [(str(host), int(port)) for host, port in cursor.fetchall()]


@contextlib.contextmanager
def network_schema_build(schema_name: str) -> Iterator[None]:
    """Wrap the creation of a network's schema: on Citus it is built locally (the snapshot and the
    catalog clone replay DDL that Citus refuses on distributed tables) and distributed at the end,
    in the same transaction, so a failure leaves neither a half-made nor a local schema."""
    if not citus_active():
        yield
        return
    with local_schema_creation():
        yield
        schema_distribute(schema_name)


def citus_schema_editor(base: type[Any]) -> type[Any]:
    """`base` (a Django schema editor class) adding a column's constraints as their own statements.

    Citus refuses `ALTER TABLE ... ADD COLUMN ... CHECK | UNIQUE | REFERENCES` on a distributed
    table ("all constraints in Citus must have explicit names") but takes `ADD COLUMN` followed
    by `ADD CONSTRAINT`. The constraints get the names Django gives them when it alters a field,
    so later migrations find them; the schema ends as on plain PostgreSQL."""

    class CitusSchemaEditor(base):
        # Without the inline form Django adds a foreign key as its own ALTER TABLE ... ADD
        # CONSTRAINT at the end of the migration.
        sql_create_column_inline_fk = None

        def add_field(self, model: Any, field: Any) -> None:
            check = field.db_parameters(connection=self.connection)["check"]
            unique = field.unique and not field.primary_key
            if field.many_to_many or not (check or unique):
                super().add_field(model, field)
                return
            # The column alone: no inline CHECK, no inline UNIQUE (nor the plain index Django
            # would add for a non-unique db_index field).
            overrides: dict[str, Any] = {"db_check": lambda connection: None}
            if unique:
                overrides |= {"unique": False, "db_index": False}  # unique: a cached_property
            saved = {key: field.__dict__[key] for key in overrides if key in field.__dict__}
            field.__dict__.update(overrides)
            try:
                super().add_field(model, field)
            finally:
                for key in overrides:
                    field.__dict__.pop(key, None)
                field.__dict__.update(saved)
            table = model._meta.db_table
            if check:
                name = self._create_index_name(table, [field.column], suffix="_check")
                self.execute(self._create_check_sql(model, name, check))
            if unique:
                self.execute(self._create_unique_sql(model, [field]))
                like_index = getattr(self, "_create_like_index_sql", lambda *_: None)(model, field)
                if like_index is not None:
                    self.execute(like_index)

    CitusSchemaEditor.__name__ = f"Citus{base.__name__}"
    return CitusSchemaEditor


def citus_migrations_prepare() -> bool:
    """Before `migrate_schemas` on Citus: this connection's schema editor splits ADD COLUMN's
    CHECK. Returns whether Citus is active."""
    if not citus_active():
        return False
    if not connection.SchemaEditorClass.__name__.startswith("Citus"):
        connection.SchemaEditorClass = citus_schema_editor(connection.SchemaEditorClass)
    return True


def network_schemas_distribute_missing(schema_names: list[str]) -> list[str]:
    """Distribute each network schema that is still local; returns those it distributed."""
    done = []
    for schema_name in schema_names:
        if not schema_is_distributed(schema_name):
            with transaction.atomic():
                schema_distribute(schema_name)
            done.append(schema_name)
    return done
