"""Celery with tenant-schemas-celery: each task runs in the schema it was queued from, or refuses."""

from __future__ import annotations

import platform

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from franchise_platform.tasks import NetworkMissing, whoami

pytestmark = [pytest.mark.worker]


def test_tasks_of_two_networks_interleaved_each_see_their_own_schema(net_a, net_b, celery_worker):
    queued = []
    for i in range(6):
        persona_network = net_a if i % 2 == 0 else net_b
        with tenant_context(persona_network.network):
            queued.append((persona_network.network.schema_name, f"m{i}", whoami.delay(f"m{i}")))

    for schema, marker, result in queued:
        seen = result.get(timeout=30)
        assert seen["schema"] == schema
        assert seen["marker"] == marker
        # The standard library's `platform` module, not our source root, inside the worker.
        assert seen["system"] == platform.system()


def test_a_worker_keeps_its_database_connection_between_tasks(net_a, celery_worker):
    with tenant_context(net_a.network):
        backends = {whoami.delay(f"c{i}").get(timeout=30)["db_backend"] for i in range(12)}

    # One connection per pool child, recycled now and then (CELERY_DB_REUSE_MAX); Celery's Django
    # fixup alone would open a new one for every task (twelve here).
    assert len(backends) <= 2 * celery_worker.concurrency, backends


def test_task_without_network_refuses_to_run(celery_worker):
    connection.set_schema_to_public()

    result = whoami.delay("no-network")

    with pytest.raises(NetworkMissing):
        result.get(timeout=30)


def test_celery_settings_are_the_reliable_ones(settings):
    from franchise_platform.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.broker_transport_options["visibility_timeout"] >= 3600
    # Beat's schedule lives in code.
    assert {"sweep-networks", "reconcile-invoices"} <= set(app.conf.beat_schedule)
