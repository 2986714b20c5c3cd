"""On Citus: migrate_schemas runs Django's ADD COLUMN ... CHECK on a distributed network schema,
and a network's schema moves to another worker while provider callbacks keep arriving, every one
acknowledged and stored. Committed data (a real second connection moves the schema), so these
tests take `fresh_network` and no test transaction."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
import uuid
from decimal import Decimal

import psycopg2
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import tenant_context

from franchise_platform.flows.payment import callback_apply
from franchise_platform.payments.models import CallbackEvent, Invoice, LinkKind, Payment
from tenants.citus import schema_nodes
from tests.citus.conftest import CITUS_DATABASE_URL
from tests.factories import shop
from tests.payments.helpers import active_link, callback, deal_with_links, visit
from tests.personas import make_persona_network, network_drop

pytestmark = [
    pytest.mark.citus,
    pytest.mark.skipif(not CITUS_DATABASE_URL, reason="CITUS_DATABASE_URL names no coordinator"),
]


def _check_constraints(schema: str, table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'c' AND conrelid = "
            "to_regclass(quote_ident(%s) || '.' || quote_ident(%s)) ORDER BY 1",
            [schema, table],
        )
        return [row[0] for row in cursor.fetchall()]


def test_migrate_schemas_adds_a_checked_column_on_a_distributed_schema(
    fresh_network, django_db_blocker
):
    schema = fresh_network.network.schema_name
    with django_db_blocker.unblock():
        node = schema_nodes(schema)
        before = _check_constraints(schema, "crm_sync_crmconnection")
        # Back to before crm_sync 0003, then forward: 0003 adds PositiveIntegerFields (CHECK >= 0).
        call_command("migrate_schemas", "crm_sync", "0002", schema_name=schema, verbosity=0)
        assert _check_constraints(schema, "crm_sync_crmconnection") != before
        started = time.monotonic()
        call_command("migrate_schemas", "crm_sync", schema_name=schema, verbosity=0)
        print(
            f"\ncitus: crm_sync 0003 forward on a distributed schema: {time.monotonic() - started:.2f}s"
        )

        assert _check_constraints(schema, "crm_sync_crmconnection") == before
        assert schema_nodes(schema) == node  # still whole on its worker
        connection.set_schema_to_public()


def _deals(count: int) -> tuple[object, list[object]]:
    account = shop()
    location = account.partner.locations.get()
    return account, [deal_with_links(location, lead=9000 + lead) for lead in range(count)]


def _move(schema: str, target: tuple[str, int], result: dict[str, object]) -> None:
    db = settings.DATABASES["default"]
    conn = psycopg2.connect(
        host=db["HOST"],
        port=db["PORT"],
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
    )
    conn.autocommit = True
    started = time.monotonic()
    try:
        with contextlib.closing(conn), conn.cursor() as cursor:
            cursor.execute("SELECT citus_schema_move(%s::regnamespace, %s, %s)", [schema, *target])
    except Exception as exc:  # reported by the test, not lost in the thread
        result["error"] = exc
    result["seconds"] = time.monotonic() - started


def test_schema_moves_to_another_worker_while_callbacks_keep_arriving(
    fresh_network, django_db_blocker
):
    schema = fresh_network.network.schema_name
    with django_db_blocker.unblock():
        with tenant_context(fresh_network.network):
            account, deals = _deals(100)
            anonymous = fresh_network.anonymous()
            for deal in deals:
                visit(anonymous, active_link(deal, LinkKind.PREPAYMENT))
            invoices = list(Invoice.objects.order_by("pk"))
        connection.set_schema_to_public()
        (source,) = schema_nodes(schema)
        with connection.cursor() as cursor:
            cursor.execute("SELECT node_name, node_port FROM citus_get_active_worker_nodes()")
            target = next((h, int(p)) for h, p in cursor.fetchall() if (h, int(p)) != source)

        result: dict[str, object] = {}
        mover = threading.Thread(target=_move, args=(schema, target, result))
        answers, during, after = [], 0, 0
        mover.start()
        with tenant_context(fresh_network.network):
            # Callbacks arrive before, through and after the move's cut-over. Past the last
            # invoice they come again (Robokassa repeats a callback until it sees OK<InvId>),
            # bounded in count and time.
            deadline = time.monotonic() + 240
            for sent, invoice in enumerate(itertools.cycle(invoices)):
                if (after >= 5 and sent >= len(invoices)) or time.monotonic() > deadline:
                    break
                moving = mover.is_alive()
                response = callback(anonymous, account, inv_id=invoice.pk, out_sum="1500.000000")
                answers.append((response.status_code, response.content.decode(), invoice.pk))
                during += moving and mover.is_alive()
                after += not moving
        mover.join(timeout=10)
        assert after >= 5, "the move outlasted the callbacks' time budget"
        assert not mover.is_alive() and "error" not in result, result
        assert schema_nodes(schema) == [target]
        assert during > 0, "no callback arrived while the schema was moving"
        assert answers == [(200, f"OK{pk}", pk) for _, _, pk in answers]
        with tenant_context(fresh_network.network):
            events = list(CallbackEvent.objects.values_list("pk", flat=True))
            assert len(events) == len(invoices)  # none lost (a repeat is the same event)
            for event_id in events:
                callback_apply(event_id=str(event_id))
            assert Payment.objects.count() == len(invoices)
            assert {p.amount for p in Payment.objects.all()} == {Decimal("1500.00")}
        connection.set_schema_to_public()
        print(
            f"\ncitus: citus_schema_move {source} -> {target}: {result['seconds']:.2f}s, "
            f"{during} callbacks acknowledged during it, {len(answers)} in all "
            f"for {len(invoices)} invoices, none lost"
        )


def test_migrate_schemas_distributes_a_local_network_and_rebuilds_a_distributed_template(
    django_db_setup, django_db_blocker, monkeypatch
):
    template = settings.TENANT_BASE_SCHEMA
    with django_db_blocker.unblock():
        # As code that knew nothing of Citus left them: a network on the coordinator (the
        # catalog clone's "success"), the template distributed.
        with monkeypatch.context() as patched:
            patched.setattr("tenants.citus.schema_distribute", lambda schema_name: None)
            local = make_persona_network(f"local{uuid.uuid4().hex[:8]}", "Сеть до Citus")
        with connection.cursor() as cursor:
            cursor.execute("SELECT citus_schema_distribute(%s::regnamespace)", [template])
        schema = local.network.schema_name
        assert schema_nodes(schema) == [] and len(schema_nodes(template)) == 1
        try:
            call_command("migrate_schemas", verbosity=0)

            assert len(schema_nodes(schema)) == 1
            assert schema_nodes(template) == []
            # The rebuilt template still makes networks, distributed whole.
            after = make_persona_network(f"after{uuid.uuid4().hex[:8]}", "Сеть после")
            assert len(schema_nodes(after.network.schema_name)) == 1
            network_drop(after.network)
        finally:
            connection.set_schema_to_public()
            network_drop(local.network)
