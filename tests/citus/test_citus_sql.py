"""Without Citus (plain PostgreSQL, the ordinary suite): detection says no and changes nothing, and
the schema editor used on Citus writes a column's CHECK and foreign key as their own statements."""

from __future__ import annotations

import pytest
from django.db import connection, models

from franchise_platform.crm_sync.models import CrmConnection
from tenants.citus import citus_active, citus_schema_editor, citus_version, network_schema_build
from tests.citus.conftest import CITUS_DATABASE_URL

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(bool(CITUS_DATABASE_URL), reason="checks plain PostgreSQL"),
]


def _collected(editor_class, field) -> list[str]:
    field.set_attributes_from_name("probe")
    field.model = CrmConnection
    with editor_class(connection, collect_sql=True) as editor:
        editor.add_field(CrmConnection, field)
    return list(editor.collected_sql)  # with the deferred statements, written at the exit


def test_plain_postgresql_is_not_citus_and_a_schema_build_changes_nothing(
    django_assert_num_queries,
):
    assert citus_version() is None
    assert citus_active() is False
    # One detection query, and nothing else: no set_config, no citus_schema_distribute.
    with django_assert_num_queries(1) as captured, network_schema_build("anything"):
        pass
    assert "pg_extension" in captured.captured_queries[0]["sql"]


def test_citus_editor_adds_a_columns_check_as_its_own_constraint():
    plain = _collected(connection.SchemaEditorClass, models.PositiveIntegerField(default=0))
    citus = _collected(
        citus_schema_editor(connection.SchemaEditorClass), models.PositiveIntegerField(default=0)
    )

    assert "ADD COLUMN" in plain[0] and "CHECK" in plain[0]  # what Citus refuses when distributed
    add_column, add_check = (s for s in citus if "ADD" in s)
    assert "ADD COLUMN" in add_column and "CHECK" not in add_column
    assert 'ADD CONSTRAINT "crm_sync_crmconnection_probe_' in add_check
    assert 'CHECK ("probe" >= 0)' in add_check


def test_citus_editor_adds_a_foreign_key_after_the_column():
    field = models.ForeignKey("crm_sync.CrmConnection", on_delete=models.CASCADE, null=True)
    field.remote_field.model = CrmConnection
    citus = _collected(citus_schema_editor(connection.SchemaEditorClass), field)

    add_column = next(s for s in citus if "ADD COLUMN" in s)
    assert "REFERENCES" not in add_column
    assert any("FOREIGN KEY" in s and "REFERENCES" in s for s in citus)


def test_citus_editor_adds_a_unique_column_then_its_constraint_and_like_index():
    plain = _collected(
        connection.SchemaEditorClass, models.CharField(max_length=20, unique=True, null=True)
    )
    citus = _collected(
        citus_schema_editor(connection.SchemaEditorClass),
        models.CharField(max_length=20, unique=True, null=True),
    )

    assert "UNIQUE" in plain[0]
    add_column = next(s for s in citus if "ADD COLUMN" in s)
    assert "UNIQUE" not in add_column
    assert any("ADD CONSTRAINT" in s and "UNIQUE" in s for s in citus)
    # The same indexes as on plain PostgreSQL: the pattern-ops index for LIKE, no extra plain one.
    assert sum("varchar_pattern_ops" in s for s in citus) == 1
    assert sum("CREATE INDEX" in s for s in citus) == sum("CREATE INDEX" in s for s in plain)
