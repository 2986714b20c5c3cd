"""Host routing, the template schema, tenant-aware cache keys and healthz."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_exists, tenant_context

from tenants.models import Network
from tenants.selectors import networks_active
from tests.personas import platform_client

pytestmark = pytest.mark.django_db


def test_unknown_host_answers_404_and_touches_no_network_schema(net_a):
    with CaptureQueriesContext(connection) as queries:
        response = Client(HTTP_HOST="nobody.localhost").get("/healthz")

    assert response.status_code == 404
    assert response.json() == {"detail": "Unknown host.", "code": "unknown_host"}
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert net_a.network.schema_name not in sql
    assert "search_path" not in sql.lower() or "public" in sql.lower()
    assert connection.schema_name == "public"


def test_foreign_host_answers_404():
    assert Client(HTTP_HOST="evil.example.com").get("/healthz").status_code in (400, 404)


def test_healthz_on_platform_host_and_network_host(net_a):
    assert platform_client().get("/healthz").json() == {"status": "ok"}
    response = net_a.anonymous().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_names_the_broker_when_it_does_not_answer(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = platform_client().get("/healthz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]


def test_template_schema_exists_but_is_in_no_listing(net_a):
    template = settings.TENANT_BASE_SCHEMA
    assert schema_exists(template)
    assert not Network.objects.filter(schema_name=template).exists()
    listed = {n.schema_name for n in networks_active()}
    assert template not in listed
    assert "public" not in listed
    assert net_a.network.schema_name in listed


def test_new_network_has_every_table_of_the_template(net_a):
    def tables(schema: str) -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
            return {row[0] for row in cursor.fetchall()}

    template_tables = tables(settings.TENANT_BASE_SCHEMA)
    assert "network_partner" in template_tables
    assert tables(net_a.network.schema_name) == template_tables


def test_cache_keys_are_per_network(net_a, net_b):
    with tenant_context(net_a.network):
        cache.set("greeting", "hello from A", 30)
    with tenant_context(net_b.network):
        assert cache.get("greeting") is None
        cache.set("greeting", "hello from B", 30)
    with tenant_context(net_a.network):
        assert cache.get("greeting") == "hello from A"
        cache.delete("greeting")
    with tenant_context(net_b.network):
        cache.delete("greeting")
