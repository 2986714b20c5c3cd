"""Reads of the daily rollup (reporting/rollup.py) in the shape the dashboard adds up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from django.db.models import DateField, F, Q, QuerySet, Sum
from django.db.models.functions import Trunc

from franchise_platform.payments.selectors import NOTHING, _uuid_or_none

from .models import DailyTurnover, MonthlyTurnover, WeeklyTurnover

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

    def add_share(self, into: dict[Any, Sums], key: Any, row: Mapping[str, Any], name: str) -> None:
        into.setdefault(key, Sums()).add(row["amount"], row["count"], row.get(name))


def month_after(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def _block_start(day: date, grain: Grain) -> date:
    return day.replace(day=1) if grain == "month" else day - timedelta(days=day.weekday())


def _block_after(start: date, grain: Grain) -> date:
    return month_after(start) if grain == "month" else start + timedelta(days=7)


def split_by_blocks(
    since: date, until: date, through: date, grain: Grain = "month"
) -> tuple[tuple[date, date] | None, list[tuple[date, date]]]:
    """The rolled days `since`..`until` as whole months or weeks (the first and last one's start,
    read from MonthlyTurnover or WeeklyTurnover) and the days around them (read from
    DailyTurnover). The block holding `through` counts as whole when the period reaches `through`:
    its row holds no later day."""
    start = _block_start(since, grain)
    block = start if start == since else _block_after(start, grain)
    blocks: list[date] = []
    while block <= until:
        if _block_after(block, grain) - timedelta(days=1) <= until or until >= through:
            blocks.append(block)
        block = _block_after(block, grain)
    if not blocks:
        return None, [(since, until)]
    edges = []
    if since < blocks[0]:
        edges.append((since, blocks[0] - timedelta(days=1)))
    covered_to = min(_block_after(blocks[-1], grain) - timedelta(days=1), until)
    if covered_to < until:
        edges.append((covered_to + timedelta(days=1), until))
    return (blocks[0], blocks[-1]), edges


def split_by_months(
    since: date, until: date, through: date
) -> tuple[tuple[date, date] | None, list[tuple[date, date]]]:
    return split_by_blocks(since, until, through, "month")


def _around(edges: list[tuple[date, date]]) -> Q:
    around = Q()
    for first, last in edges:
        around |= Q(day__gte=first, day__lte=last)
    return around


def _scoped(rows: QuerySet[Any], partner_id: str | None, location_id: str | None) -> QuerySet[Any]:
    rows = rows.order_by()
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
    through: date,
    grain: Grain,
    partner_id: str | None = None,
    location_id: str | None = None,
    lists: bool = True,
) -> None:
    """Add the rollup's figures of the days `since`..`until` (both included, none after
    `through`) to `figures`: whole months from MonthlyTurnover, the days around them and a daily
    or weekly series from DailyTurnover; a few queries whatever the period."""
    months, edges = split_by_months(since, until, through)
    days = _scoped(DailyTurnover.objects.all(), partner_id, location_id)
    parts: list[tuple[QuerySet[Any], Any]] = []
    if months:
        monthly = _scoped(
            MonthlyTurnover.objects.filter(month__gte=months[0], month__lte=months[1]),
            partner_id,
            location_id,
        )
        parts.append((monthly, F("month")))
    if edges:
        parts.append((days.filter(_around(edges)), Trunc("day", "month", output_field=DateField())))
    sums = {"amount": Sum("amount"), "count": Sum("count")}
    for rows, month_bucket in parts:
        for row in rows.values("is_test").annotate(**sums):
            (figures.tests if row["is_test"] else figures.money).add(row["amount"], row["count"])
        money = rows.filter(~Q(is_test=True))
        if grain == "month":
            for row in money.annotate(bucket=month_bucket).values("bucket").annotate(**sums):
                figures.add_share(figures.buckets, row["bucket"], row, "")
        if not lists:
            continue
        for row in money.values("partner_id", "partner__name").annotate(**sums):
            figures.add_share(figures.partners, str(row["partner_id"]), row, "partner__name")
        for row in money.values("location_id", "location__name").annotate(**sums):
            key = str(row["location_id"]) if row["location_id"] else ""
            figures.add_share(figures.locations, key, row, "location__name")
    if grain == "week" and not location_id:
        _weekly_series_add(
            figures, since=since, until=until, through=through, days=days, partner_id=partner_id
        )
    elif grain != "month":
        for row in (
            days.filter(day__gte=since, day__lte=until, is_test=False)
            .annotate(bucket=Trunc("day", grain, output_field=DateField()))
            .values("bucket")
            .annotate(**sums)
        ):
            figures.add_share(figures.buckets, row["bucket"], row, "")


def _weekly_series_add(
    figures: TurnoverFigures,
    *,
    since: date,
    until: date,
    through: date,
    days: QuerySet[Any],
    partner_id: str | None,
) -> None:
    """A weekly series without a location filter: whole weeks from WeeklyTurnover, the days
    around them from DailyTurnover."""
    weeks, edges = split_by_blocks(since, until, through, "week")
    sums = {"amount": Sum("amount"), "count": Sum("count")}
    if weeks:
        weekly = _scoped(
            WeeklyTurnover.objects.filter(week__gte=weeks[0], week__lte=weeks[1], is_test=False),
            partner_id,
            None,
        )
        for row in weekly.values("week").annotate(**sums):
            figures.add_share(figures.buckets, row["week"], row, "")
    if edges:
        for row in (
            days.filter(_around(edges), is_test=False)
            .annotate(bucket=Trunc("day", "week", output_field=DateField()))
            .values("bucket")
            .annotate(**sums)
        ):
            figures.add_share(figures.buckets, row["bucket"], row, "")
