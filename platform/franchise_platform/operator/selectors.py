"""Reads for the operator console: the networks, a page at a time, with figures from each schema.

Each network's figures live in its own schema. A page's figures come from ONE query (a UNION ALL
with a row of scalar subqueries per schema, built from the models' table names), not a few queries
per row, and are cached for a minute per network: the list is opened often, the figures change
slowly, and one minute old is fresh enough to decide whom to call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, Model, Q, QuerySet
from django.utils import timezone
from django_tenants.utils import schema_context
from psycopg2 import sql

from franchise_platform.network.models import Location, Partner
from franchise_platform.payments.models import Deal, Payment
from tenants.models import CrmAccountBinding, Network

STATS_TTL_SECONDS = 60
PAGE_SIZE = 50
WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class NetworkStats:
    partners: int
    locations: int
    deals: int
    payments_30d: int
    turnover_30d: Decimal


@dataclass(frozen=True)
class NetworkRow:
    network: Network
    stats: NetworkStats
    bindings: list[CrmAccountBinding]


def _table(schema: str, model: type[Model]) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(model._meta.db_table))


def _stats_query(schemas: list[str], since: datetime) -> tuple[sql.Composed, list[Any]]:
    parts: list[sql.Composable] = []
    params: list[Any] = []
    for schema in schemas:
        payment = _table(schema, Payment)
        parts.append(
            sql.SQL(
                "SELECT %s, (SELECT count(*) FROM {partners}), (SELECT count(*) FROM {locations}),"
                " (SELECT count(*) FROM {deals}),"
                " (SELECT count(*) FROM {payments} WHERE paid_at >= %s AND NOT is_test),"
                " (SELECT coalesce(sum(amount), 0) FROM {payments}"
                " WHERE paid_at >= %s AND NOT is_test)"
            ).format(
                partners=_table(schema, Partner),
                locations=_table(schema, Location),
                deals=_table(schema, Deal),
                payments=payment,
            )
        )
        params += [schema, since, since]
    return sql.SQL(" UNION ALL ").join(parts), params


def _cache_key(schema: str) -> str:
    return f"operator:stats:{schema}"


def network_stats(networks: list[Network]) -> dict[str, NetworkStats]:
    """Figures per schema name; those not cached are read in one query."""
    with schema_context("public"):
        cached = cache.get_many([_cache_key(n.schema_name) for n in networks])
        stats = {
            n.schema_name: cached[_cache_key(n.schema_name)]
            for n in networks
            if _cache_key(n.schema_name) in cached
        }
        missing = [n.schema_name for n in networks if n.schema_name not in stats]
        if missing:
            query, params = _stats_query(missing, timezone.now() - WINDOW)
            with connection.cursor() as cursor:
                cursor.execute(query.as_string(cursor.connection), params)
                fresh = {
                    row[0]: NetworkStats(int(row[1]), int(row[2]), int(row[3]), int(row[4]), row[5])
                    for row in cursor.fetchall()
                }
            cache.set_many({_cache_key(s): v for s, v in fresh.items()}, STATS_TTL_SECONDS)
            stats.update(fresh)
    return stats


def network_stats_forget(network: Network) -> None:
    with schema_context("public"):
        cache.delete(_cache_key(network.schema_name))


def networks_filtered(*, query: str = "", status: str = "") -> QuerySet[Network]:
    networks = Network.objects.customers().order_by("-created_at", "pk")
    if query:
        networks = networks.filter(
            Q(slug__icontains=query) | Q(name__icontains=query) | Q(owner_email__icontains=query)
        )
    if status in Network.Status.values:
        networks = networks.filter(status=status)
    return networks


@dataclass(frozen=True)
class NetworkPage:
    page: Page[Network]
    rows: list[NetworkRow]


def network_page(*, query: str = "", status: str = "", page: str | None = None) -> NetworkPage:
    """A page of networks, newest first, with figures and amoCRM bindings (a fixed number of
    queries whatever the page holds)."""
    current = Paginator(networks_filtered(query=query, status=status), PAGE_SIZE).get_page(page)
    networks = list(current.object_list)
    stats = network_stats(networks)
    bindings: dict[int, list[CrmAccountBinding]] = {}
    for binding in CrmAccountBinding.objects.filter(network__in=networks).order_by("created_at"):
        if binding.network_id is not None:
            bindings.setdefault(binding.network_id, []).append(binding)
    rows = [NetworkRow(n, stats[n.schema_name], bindings.get(n.pk, [])) for n in networks]
    return NetworkPage(current, rows)


def network_totals() -> dict[str, int]:
    """How many networks there are, in all and per status (one grouped query)."""
    counts = {"all": 0, Network.Status.ACTIVE: 0, Network.Status.SUSPENDED: 0}
    for row in Network.objects.customers().values("status").annotate(n=Count("pk")).order_by():
        counts[row["status"]] = row["n"]
        counts["all"] += row["n"]
    return counts
