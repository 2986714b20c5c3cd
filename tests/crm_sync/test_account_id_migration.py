"""CRM account ids become strings (issue 17): the migrations keep every stored integer id as its
decimal string, and amoCRM's integer ids still find their rows."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.loader import MigrationLoader
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import CrmConnection
from tenants.models import CrmAccountBinding

pytestmark = pytest.mark.django_db

SCRATCH = "test_account_id_migration"


def _migrate_scratch_table(app: str, before: str, after: str, table: str, ddl: str) -> list[tuple]:
    """Apply one migration to a scratch copy of `table` holding integer ids; its rows after."""
    loader = MigrationLoader(connection)
    from_state = loader.project_state((app, before))
    migration = loader.get_migration(app, after)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {SCRATCH}")
    connection.set_schema(SCRATCH, include_public=False)
    try:
        with connection.cursor() as cursor:
            cursor.execute(ddl)
            cursor.execute(
                f"INSERT INTO {table} (id, crm, account_id) VALUES "
                "(gen_random_uuid(), 'amocrm', 31337), (gen_random_uuid(), 'dummy', 9007199254740993)"
            )
        # The tenant router applies shared apps' migrations to the public schema only.
        with (
            mock.patch("django.db.router.allow_migrate", return_value=True),
            connection.schema_editor(atomic=False) as editor,
        ):
            migration.apply(from_state, editor)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT crm, account_id FROM {table} ORDER BY crm")
            rows = cursor.fetchall()
            cursor.execute(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s AND column_name = 'account_id'",
                [SCRATCH, table],
            )
            rows.append(cursor.fetchone())
    finally:
        connection.set_schema_to_public()
    return rows


def test_connection_ids_become_their_decimal_strings() -> None:
    rows = _migrate_scratch_table(
        "crm_sync",
        "0005_crmpipeline_delivered_stages",
        "0006_account_id_string",
        "crm_sync_crmconnection",
        "CREATE TABLE crm_sync_crmconnection "
        "(id uuid PRIMARY KEY, crm varchar(32) NOT NULL, account_id bigint NOT NULL UNIQUE)",
    )

    assert rows == [("amocrm", "31337"), ("dummy", "9007199254740993"), ("character varying",)]


def test_binding_ids_become_their_decimal_strings() -> None:
    rows = _migrate_scratch_table(
        "tenants",
        "0004_oauth_binding_installer",
        "0005_crm_account_id_string",
        "tenants_crmaccountbinding",
        "CREATE TABLE tenants_crmaccountbinding "
        "(id uuid PRIMARY KEY, crm varchar(32) NOT NULL, account_id bigint NOT NULL)",
    )

    assert rows == [("amocrm", "31337"), ("dummy", "9007199254740993"), ("character varying",)]


def test_an_integer_id_finds_its_string_row_and_ids_are_unique_per_crm(net_a) -> None:
    with tenant_context(net_a.network):
        row = CrmConnection.objects.create(
            crm="amocrm", account_id=424242, base_url="https://x.amocrm.ru"
        )
        assert CrmConnection.objects.get(account_id=424242).pk == row.pk
        row.refresh_from_db()
        assert row.account_id == "424242"
        # The same id in another CRM is another account.
        CrmConnection.objects.create(
            crm="bitrix24", account_id="424242", base_url="https://x.bitrix24.com"
        )
        with pytest.raises(IntegrityError), transaction.atomic():
            CrmConnection.objects.create(
                crm="amocrm", account_id="424242", base_url="https://y.amocrm.ru"
            )
    binding = CrmAccountBinding.objects.create(crm="amocrm", account_id=515151)
    assert CrmAccountBinding.objects.get(account_id="515151").pk == binding.pk
