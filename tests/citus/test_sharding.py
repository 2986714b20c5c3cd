"""On Citus with schema-based sharding, each network's schema is distributed whole to one worker,
networks land on different workers, isolation holds and a payment goes through the coordinator.
Run against a real coordinator: `CITUS_DATABASE_URL=... pytest tests/citus -m citus`."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from franchise_platform.flows.payment import callback_apply
from franchise_platform.payments.models import CallbackEvent, Deal, Invoice, LinkKind, Payment
from tenants.citus import citus_version, schema_nodes
from tenants.models import Network
from tests.citus.conftest import CITUS_DATABASE_URL
from tests.factories import shop
from tests.network.conftest import partner_a  # noqa: F401 - the isolation tests' fixture

# The isolation checks of tests/network, run again here with the networks on Citus workers.
from tests.network.test_isolation import (  # noqa: F401
    test_owner_of_b_with_a_ids_gets_404_from_the_api_and_changes_nothing,
    test_owner_of_b_with_a_ids_gets_404_in_the_panel_and_changes_nothing,
    test_token_of_b_on_the_host_of_a_is_401,
)
from tests.payments.helpers import active_link, callback, deal_with_links, visit
from tests.personas import platform_client

pytestmark = [
    pytest.mark.citus,
    pytest.mark.skipif(not CITUS_DATABASE_URL, reason="CITUS_DATABASE_URL names no coordinator"),
    pytest.mark.django_db,
]


def _tables(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def _distributed_tables(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT c.relname FROM citus_shards s JOIN pg_class c ON c.oid = s.table_name "
            "JOIN citus_schemas cs USING (colocation_id) "
            "WHERE cs.schema_name = to_regnamespace(%s)",
            [schema],
        )
        return {row[0] for row in cursor.fetchall()}


def test_each_network_lives_whole_on_its_own_worker(net_a, net_b):
    assert citus_version() is not None
    a, b = net_a.network.schema_name, net_b.network.schema_name

    nodes_a, nodes_b = schema_nodes(a), schema_nodes(b)

    assert len(nodes_a) == 1 and len(nodes_b) == 1  # all of a network's tables on one node
    assert nodes_a != nodes_b  # and the two networks on different workers
    coordinator = (
        settings.DATABASES["default"]["HOST"],
        int(settings.DATABASES["default"]["PORT"]),
    )
    assert coordinator not in nodes_a + nodes_b
    assert _tables(a) and _distributed_tables(a) == _tables(a)
    assert _distributed_tables(b) == _tables(b)
    # The template stays a plain schema on the coordinator, the source of every new network.
    assert schema_nodes(settings.TENANT_BASE_SCHEMA) == []


def test_payment_goes_through_the_coordinator(in_network):
    account = shop()
    deal = deal_with_links(account.partner.locations.get())
    visit(in_network.anonymous(), active_link(deal, LinkKind.PREPAYMENT))
    invoice = Invoice.objects.get()

    response = callback(in_network.anonymous(), account, inv_id=invoice.pk, out_sum="1500.000000")
    assert response.status_code == 200 and response.content.decode() == f"OK{invoice.pk}"
    callback_apply(event_id=str(CallbackEvent.objects.get().pk))

    assert Payment.objects.get().amount == Decimal("1500.00")
    assert Deal.objects.get().paid == Decimal("1500.00")


def _signup(slug: str) -> dict:
    response = platform_client().post(
        "/api/v1/signup",
        {
            "network_name": f"Сеть {slug}",
            "slug": slug,
            "owner_email": f"owner@{slug}.test",
            "owner_password": "Kazan-Quest-2026!",
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_two_sign_ups_land_on_different_workers_and_stay_apart():
    first, second = _signup("citus-one"), _signup("citus-two")
    schemas = [Network.objects.get(slug=body["slug"]).schema_name for body in (first, second)]

    nodes = [schema_nodes(schema) for schema in schemas]
    assert [len(n) for n in nodes] == [1, 1] and nodes[0] != nodes[1]
    on_first = Client(HTTP_HOST=first["domain"])
    own = on_first.get("/api/v1/partners", HTTP_AUTHORIZATION=f"Bearer {first['api_token']}")
    other = on_first.get("/api/v1/partners", HTTP_AUTHORIZATION=f"Bearer {second['api_token']}")
    assert (own.status_code, own.json()) == (200, [])
    assert other.status_code == 401


def test_a_network_made_by_the_catalog_clone_is_distributed_whole_too(settings):
    # Without a current snapshot django-tenants clones the template; on Citus that used to leave
    # every table on the coordinator.
    settings.TENANT_SNAPSHOT_CREATION = False
    schema = Network.objects.get(slug=_signup("citus-clone")["slug"]).schema_name

    assert len(schema_nodes(schema)) == 1
    assert _distributed_tables(schema) == _tables(schema)
