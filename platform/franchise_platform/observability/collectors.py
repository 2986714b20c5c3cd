"""Gauges read from the database at scrape time: CRM outbox depth and dead rows, callback backlog.

They are facts of the database, not of a process, so they are computed when Prometheus asks, not
kept in multiprocess files. The cost is bounded: one UNION ALL query per chunk of networks (each
count uses the (status, ...) index of its table), at most ``METRICS_DB_MAX_NETWORKS`` networks, a
statement timeout, and the answer cached for ``METRICS_DB_TTL_SECONDS`` in the process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

CHUNK = 100


@dataclass
class Snapshot:
    taken_at: float
    outbox_pending: dict[str, int] = field(default_factory=dict)
    outbox_dead: dict[str, int] = field(default_factory=dict)
    inbox_pending: dict[str, int] = field(default_factory=dict)
    networks: int = 0
    truncated: bool = False
    seconds: float = 0.0
    errors: int = 0


def _tables() -> tuple[str, str]:
    # local: models need the app registry, and this module must import before it is ready
    from franchise_platform.crm_sync.models import OutboxMessage
    from franchise_platform.payments.models import CallbackEvent

    return OutboxMessage._meta.db_table, CallbackEvent._meta.db_table


def _networks(limit: int) -> list[tuple[str, str]]:
    """(slug, schema) of the networks whose schema exists, at most `limit` + 1 of them."""
    # local: models need the app registry, and this module must import before it is ready
    from tenants.models import Network

    rows = list(
        Network.objects.customers().order_by("slug").values_list("slug", "schema_name")[: limit + 1]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", [[s for _, s in rows]]
        )
        existing = {row[0] for row in cursor.fetchall()}
    return [(slug, schema) for slug, schema in rows if schema in existing]


def _count_chunk(chunk: list[tuple[str, str]], snapshot: Snapshot) -> None:
    outbox, inbox = _tables()
    # Schema and table names come from our own catalog rows, quoted as identifiers; values are
    # parameters.
    qn = connection.ops.quote_name
    parts: list[str] = []
    params: list[str] = []
    for slug, schema in chunk:
        parts.append(
            f"SELECT %s, 'outbox', status, count(*) FROM {qn(schema)}.{qn(outbox)} "  # noqa: S608
            "WHERE status IN ('pending', 'dead') GROUP BY status"
        )
        parts.append(
            f"SELECT %s, 'inbox', status, count(*) FROM {qn(schema)}.{qn(inbox)} "  # noqa: S608
            "WHERE status = 'pending' GROUP BY status"
        )
        params += [slug, slug]
    timeout_ms = int(getattr(settings, "METRICS_DB_TIMEOUT_MS", 5000))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, true)", [str(timeout_ms)])
        cursor.execute(" UNION ALL ".join(parts), params)
        for slug, kind, status, count in cursor.fetchall():
            if kind == "inbox":
                snapshot.inbox_pending[slug] = int(count)
            elif status == "dead":
                snapshot.outbox_dead[slug] = int(count)
            else:
                snapshot.outbox_pending[slug] = int(count)


def take_snapshot(max_networks: int) -> Snapshot:
    started = time.monotonic()
    snapshot = Snapshot(taken_at=time.time())
    cast(Any, connection).set_schema_to_public()  # django-tenants' connection
    networks = _networks(max_networks)
    snapshot.truncated = len(networks) > max_networks
    networks = networks[:max_networks]
    snapshot.networks = len(networks)
    for start in range(0, len(networks), CHUNK):
        chunk = networks[start : start + CHUNK]
        try:
            _count_chunk(chunk, snapshot)
        except Exception:
            snapshot.errors += 1
            logger.warning("metrics: counting %d networks failed", len(chunk), exc_info=True)
    for slug, _schema in networks:
        snapshot.outbox_pending.setdefault(slug, 0)
        snapshot.outbox_dead.setdefault(slug, 0)
        snapshot.inbox_pending.setdefault(slug, 0)
    snapshot.seconds = time.monotonic() - started
    return snapshot


class DatabaseCollector(Collector):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None

    def snapshot(self) -> Snapshot:
        ttl = float(getattr(settings, "METRICS_DB_TTL_SECONDS", 30))
        limit = int(getattr(settings, "METRICS_DB_MAX_NETWORKS", 5000))
        with self._lock:
            current = self._snapshot
            if current is None or time.time() - current.taken_at >= ttl:
                current = take_snapshot(limit)
                self._snapshot = current
            return current

    def forget(self) -> None:
        with self._lock:
            self._snapshot = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            snap = self.snapshot()
        except Exception:
            logger.warning("metrics: database gauges unavailable", exc_info=True)
            up = GaugeMetricFamily("fp_metrics_db_up", "1 when the database gauges were read.")
            up.add_metric([], 0)
            yield up
            return
        families = (
            (
                "fp_crm_outbox_pending",
                "CRM outbox messages waiting to be sent.",
                snap.outbox_pending,
            ),
            (
                "fp_crm_outbox_dead",
                "CRM outbox messages marked dead (need a retry).",
                snap.outbox_dead,
            ),
            (
                "fp_callback_inbox_pending",
                "Accepted callbacks not applied yet.",
                snap.inbox_pending,
            ),
        )
        for name, doc, values in families:
            family = GaugeMetricFamily(name, doc, labels=["network"])
            for slug in sorted(values):
                family.add_metric([slug], values[slug])
            yield family
        for name, doc, value in (
            ("fp_metrics_db_up", "1 when the database gauges were read.", 1.0),
            ("fp_metrics_db_networks", "Networks counted by the database gauges.", snap.networks),
            (
                "fp_metrics_db_truncated",
                "1 when more networks exist than are counted.",
                snap.truncated,
            ),
            ("fp_metrics_db_seconds", "Time the database gauges took to read.", snap.seconds),
            ("fp_metrics_db_errors", "Chunks of networks that could not be counted.", snap.errors),
        ):
            gauge = GaugeMetricFamily(name, doc)
            gauge.add_metric([], float(value))
            yield gauge


database_collector = DatabaseCollector()
