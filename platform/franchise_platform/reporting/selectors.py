"""Reads of the daily rollup (reporting/rollup.py) in the shape the dashboard adds up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from django.db.models import DateField, Q, QuerySet, Sum
from django.db.models.functions import Trunc

from franchise_platform.payments.selectors import NOTHING, _uuid_or_none

from .models import DailyTurnover

Grain = Literal["day", "week", "month"]
ZERO = Decimal("0.00")


@dataclass
class Sums:
    amount: Decimal = ZERO
    count: int = 0
    name: str | None = None

    def add(self, amount: Decimal | None, count: int | None, name: str | None = None) -> None:
        self.amount += amount or ZERO
        self.count += count or 0
        if name is not None:
            self.name = name


@dataclass
class TurnoverFigures:
    """Money (test payments apart) of a period: in all, per bucket, per partner, per location.
    Keys are ids as text ("" for a deal without a location)."""

    money: Sums = field(default_factory=Sums)
    tests: Sums = field(default_factory=Sums)
    buckets: dict[date, Sums] = field(default_factory=dict)
    partners: dict[str, Sums] = field(default_factory=dict)
    locations: dict[str, Sums] = field(default_factory=dict)

    def add_share(self, into: dict[Any, Sums], key: Any, row: dict[str, Any], name: str) -> None:
        into.setdefault(key, Sums()).add(row["amount"], row["count"], row.get(name))


def _rolled(
    *, since: date, until: date, partner_id: str | None, location_id: str | None
) -> QuerySet[DailyTurnover]:
    rows = DailyTurnover.objects.filter(day__gte=since, day__lte=until).order_by()
    if partner_id:
        rows = rows.filter(partner_id=_uuid_or_none(partner_id) or NOTHING)
    if location_id:
        rows = rows.filter(location_id=_uuid_or_none(location_id) or NOTHING)
    return rows


def turnover_rolled_add(
    figures: TurnoverFigures,
    *,
    since: date,
    until: date,
    grain: Grain,
    partner_id: str | None = None,
    location_id: str | None = None,
    lists: bool = True,
) -> None:
    """Add the rollup's figures of the days `since`..`until` (both included) to `figures`: two
    queries, and two more with `lists` (partners and locations)."""
    rows = _rolled(since=since, until=until, partner_id=partner_id, location_id=location_id)
    sums = {"amount": Sum("amount"), "count": Sum("count")}
    for row in rows.values("is_test").annotate(**sums):
        (figures.tests if row["is_test"] else figures.money).add(row["amount"], row["count"])
    money = rows.filter(~Q(is_test=True))
    for row in (
        money.annotate(bucket=Trunc("day", grain, output_field=DateField()))
        .values("bucket")
        .annotate(**sums)
    ):
        figures.add_share(figures.buckets, row["bucket"], row, "")
    if not lists:
        return
    for row in money.values("partner_id", "partner__name").annotate(**sums):
        figures.add_share(figures.partners, str(row["partner_id"]), row, "partner__name")
    for row in money.values("location_id", "location__name").annotate(**sums):
        key = str(row["location_id"]) if row["location_id"] else ""
        figures.add_share(figures.locations, key, row, "location__name")
