"""The network's dashboard: turnover over time, by partner and by location, links issued → paid,
prepayments still outstanding, and test payments kept apart.

Every figure is aggregated in PostgreSQL (a handful of queries whatever the number of payments).
Closed days' money comes from the daily rollup (reporting/rollup.py: per day × partner × location ×
test flag, rebuilt by a beat task for the days whose payments or deals changed), the days it does
not hold yet (today) from `payment_search`, the payments list's own selector, with the same
arguments the list's filter gives it; the rollup is built from the same rows with the same keys
(the payment's partner, its deal's location, the day in the network's time zone), so the dashboard
and the list agree about which payments a period holds. Test payments are never money: they are
counted apart and left out of every sum, as `payment_totals` leaves them out of the list's total.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from django.db import connection, transaction
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from franchise_platform.payments.models import Deal, DealStatus, Payment, PaymentLink
from franchise_platform.payments.selectors import (
    NOTHING,
    PaymentTotals,
    _uuid_or_none,
    payment_search,
    payment_totals,
)
from franchise_platform.reporting.models import DealFunnel
from franchise_platform.reporting.rollup import rolled_through
from franchise_platform.reporting.selectors import Sums, TurnoverFigures, turnover_rolled_add

Grain = Literal["day", "week", "month"]
ZERO = Decimal("0.00")
# A partly paid deal whose service starts within this many days (or has started) is outstanding.
OUTSTANDING_HORIZON = timedelta(days=3)
OUTSTANDING_SHOWN = 20
# Partners and locations listed by name; the rest of them is one row (the sum stays whole).
SHARES_SHOWN = 20


@dataclass(frozen=True)
class DashboardQuery:
    """What to show: payments made on `since`..`until` (both days included, the network's time
    zone), bucketed by `grain`, optionally of one partner and/or one location."""

    since: date
    until: date
    grain: Grain = "day"
    partner_id: str | None = None
    location_id: str | None = None

    def search_args(self) -> dict[str, Any]:
        """The payments list's selector arguments for the same filter (PaymentFilter's shape)."""
        return {
            "partner_id": self.partner_id,
            "location_id": self.location_id,
            "since": _day_start(self.since),
            "until": _day_start(self.until + timedelta(days=1)),
        }


@dataclass(frozen=True)
class Bucket:
    start: date
    amount: Decimal
    count: int


@dataclass(frozen=True)
class Share:
    """One partner's or location's turnover in the period."""

    key: str
    name: str
    amount: Decimal
    count: int
    percent: Decimal  # of the period's turnover, for the bar
    rest: int = 0  # how many partners or locations this row stands for, when it is the rest


@dataclass(frozen=True)
class Conversion:
    """Deals whose first link was issued in the period, how many of them received real money
    (any payment, a prepayment included), and the median time from that first link to the first
    payment."""

    issued: int
    paid: int
    median: timedelta | None

    @property
    def percent(self) -> Decimal | None:
        if not self.issued:
            return None
        return (Decimal(self.paid) * 100 / Decimal(self.issued)).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class Outstanding:
    count: int
    remaining: Decimal
    deals: list[Deal]


@dataclass(frozen=True)
class Dashboard:
    query: DashboardQuery
    totals: PaymentTotals
    tests: PaymentTotals
    series: list[Bucket]
    partners: list[Share]
    locations: list[Share]
    conversion: Conversion
    outstanding: Outstanding


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def bucket_start(day: date, grain: Grain) -> date:
    """The first day of the bucket holding `day` (weeks start on Monday, as date_trunc's do)."""
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def bucket_after(start: date, grain: Grain) -> date:
    if grain == "week":
        return start + timedelta(days=7)
    if grain == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)


def bucket_starts(since: date, until: date, grain: Grain) -> list[date]:
    starts = []
    current = bucket_start(since, grain)
    while current <= until:
        starts.append(current)
        current = bucket_after(current, grain)
    return starts


def _money_payments(query: DashboardQuery) -> QuerySet[Payment]:
    return payment_search(**query.search_args()).filter(is_test=False).order_by()


def _live_add(figures: TurnoverFigures, query: DashboardQuery, *, lists: bool) -> None:
    """Add the payments of `query`'s days, read from the payments themselves (the days the
    rollup does not hold: today, or every day before the first refresh)."""
    listed = payment_search(**query.search_args())
    totals = payment_totals(payments=listed)
    figures.money.add(totals.amount, totals.count)
    tests = (
        listed.filter(is_test=True).order_by().aggregate(count=Count("pk"), amount=Sum("amount"))
    )
    figures.tests.add(tests["amount"], tests["count"])
    money = _money_payments(query)
    sums = {"amount": Sum("amount"), "count": Count("pk")}
    for row in (
        money.annotate(bucket=Trunc("paid_at", query.grain, tzinfo=timezone.get_current_timezone()))
        .values("bucket")
        .annotate(**sums)
    ):
        figures.add_share(figures.buckets, timezone.localtime(row["bucket"]).date(), row, "")
    if not lists:
        return
    for by_partner in money.values("partner_id", "partner__name").annotate(**sums):
        key = str(by_partner["partner_id"])
        figures.add_share(figures.partners, key, by_partner, "partner__name")
    for by_location in money.values("deal__location_id", "deal__location__name").annotate(**sums):
        key = str(by_location["deal__location_id"]) if by_location["deal__location_id"] else ""
        figures.add_share(figures.locations, key, by_location, "deal__location__name")


def turnover_figures(
    query: DashboardQuery, *, through: date | None, lists: bool = True
) -> TurnoverFigures:
    """The period's money: closed days from the daily rollup (reporting/rollup.py), the days it
    does not hold yet from the payments, added up (a week or month may take from both)."""
    figures = TurnoverFigures()
    live_since = query.since
    if through is not None and query.since <= through:
        turnover_rolled_add(
            figures,
            since=query.since,
            until=min(query.until, through),
            through=through,
            grain=query.grain,
            partner_id=query.partner_id,
            location_id=query.location_id,
            lists=lists,
        )
        live_since = through + timedelta(days=1)
    if live_since <= query.until:
        _live_add(figures, replace(query, since=live_since), lists=lists)
    return figures


def _series(query: DashboardQuery, figures: TurnoverFigures) -> list[Bucket]:
    series = []
    for start in bucket_starts(query.since, query.until, query.grain):
        found = figures.buckets.get(start)
        series.append(Bucket(start, found.amount if found else ZERO, found.count if found else 0))
    return series


def _percent(amount: Decimal, total: Decimal) -> Decimal:
    return (amount * 100 / total).quantize(Decimal("0.1")) if total else Decimal("0.0")


def _shares(items: dict[str, Sums], total: Decimal, *, unnamed: str) -> list[Share]:
    """Largest first (then by name); past SHARES_SHOWN the rest is one row."""
    shares: list[Share] = []
    rest: list[Share] = []
    ordered = sorted(items.items(), key=lambda item: (-item[1].amount, item[1].name or ""))
    for key, sums in ordered:
        share = Share(
            key=key,
            name=sums.name or unnamed,
            amount=sums.amount,
            count=sums.count,
            percent=_percent(sums.amount, total),
        )
        (shares if len(shares) < SHARES_SHOWN else rest).append(share)
    if rest:
        amount = sum((s.amount for s in rest), ZERO)
        shares.append(
            Share(
                key="",
                name="",
                amount=amount,
                count=sum(s.count for s in rest),
                percent=_percent(amount, total),
                rest=len(rest),
            )
        )
    return shares


# Written in SQL because of its shape. Deals whose first link came on a closed day are read from
# the rollup's funnel rows (reporting.DealFunnel: one index range on the first link's day). The
# rest (today's first links, or all before the first refresh): from the links issued since then
# (an index range), keep each deal's first link (NOT EXISTS an earlier one; ties broken by id), and
# look up each such deal's first real payment made since the period began (few deals: an index
# lookup each). A funnel row's first payment counts from the period's start too. Both sets of waits
# are one list for the median. Finding first links live took 180 ms for a year at 30,000 deals
# (load 7) and grows with the deals; the funnel's range does not need the anti-join.
_CONVERSION_SQL = """
WITH first_links AS (
    SELECT l.deal_id, l.created_at
    FROM {link} l {deal_join}
    WHERE l.created_at >= %(live_since)s AND l.created_at < %(until)s {deal_filter}
      AND NOT EXISTS (
        SELECT 1 FROM {link} e
        WHERE e.deal_id = l.deal_id
          AND (e.created_at < l.created_at OR (e.created_at = l.created_at AND e.id < l.id))
      )
), waits AS (
    SELECT f.created_at AS link_at, fp.paid_at
    FROM first_links f
    LEFT JOIN LATERAL (
        SELECT MIN(p.paid_at) AS paid_at FROM {payment} p
        WHERE p.deal_id = f.deal_id AND NOT p.is_test AND p.paid_at >= %(since)s
    ) fp ON true
    UNION ALL
    SELECT r.first_link_at, CASE WHEN r.first_paid_at >= %(since)s THEN r.first_paid_at END
    FROM {funnel} r
    WHERE r.first_link_day >= %(rolled_since)s AND r.first_link_day <= %(rolled_until)s
      {funnel_filter}
)
SELECT COUNT(*), COUNT(paid_at), PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY paid_at - link_at)
FROM waits
"""


def _conversion(query: DashboardQuery, through: date | None) -> Conversion:
    args = query.search_args()
    rolled = through is not None and query.since <= through
    live_since = through + timedelta(days=1) if rolled and through else query.since
    params: dict[str, Any] = {
        "since": args["since"],
        "live_since": max(_day_start(live_since), args["since"]),
        "until": args["until"],
        # An empty range when nothing is rolled up.
        "rolled_since": query.since if rolled else date.max,
        "rolled_until": min(query.until, through) if rolled and through else date.min,
    }
    conditions, funnel = [], []
    if query.partner_id:
        params["partner"] = _uuid_or_none(query.partner_id) or NOTHING
        conditions.append("AND d.partner_id = %(partner)s")
        funnel.append("AND r.partner_id = %(partner)s")
    if query.location_id:
        params["location"] = _uuid_or_none(query.location_id) or NOTHING
        conditions.append("AND d.location_id = %(location)s")
        funnel.append("AND r.location_id = %(location)s")
    quote = connection.ops.quote_name
    sql = _CONVERSION_SQL.format(
        link=quote(PaymentLink._meta.db_table),
        payment=quote(Payment._meta.db_table),
        funnel=quote(DealFunnel._meta.db_table),
        deal_join=f"JOIN {quote(Deal._meta.db_table)} d ON d.id = l.deal_id" if conditions else "",
        deal_filter=" ".join(conditions),
        funnel_filter=" ".join(funnel),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        issued, paid, median = cursor.fetchone()
    return Conversion(issued=issued, paid=paid, median=median)


def _outstanding(query: DashboardQuery, now: datetime, *, listed: bool) -> Outstanding:
    deals = Deal.objects.filter(
        status=DealStatus.PARTIALLY_PAID, service_date__lt=now + OUTSTANDING_HORIZON
    )
    if query.partner_id:
        deals = deals.filter(partner_id=_uuid_or_none(query.partner_id) or NOTHING)
    if query.location_id:
        deals = deals.filter(location_id=_uuid_or_none(query.location_id) or NOTHING)
    figures = deals.order_by().aggregate(count=Count("pk"), total=Sum("total"), paid=Sum("paid"))
    remaining = (figures["total"] or ZERO) - (figures["paid"] or ZERO)
    shown = (
        list(
            deals.select_related("partner", "location").order_by("service_date", "pk")[
                :OUTSTANDING_SHOWN
            ]
        )
        if listed
        else []
    )
    return Outstanding(count=figures["count"], remaining=max(remaining, ZERO), deals=shown)


def dashboard_get(
    *, query: DashboardQuery, now: datetime | None = None, lists: bool = True
) -> Dashboard:
    """Every figure of the dashboard for `query`, in eight queries whatever the data's size;
    without `lists` (the home page's summary) the partners, locations and outstanding deals are
    left out (three queries fewer), their totals kept.

    They run in one read-only transaction with PostgreSQL's JIT compiler off: a year's aggregates
    cross its cost threshold, and compiling them took 1.7 s of a query that runs in 0.2 s without
    (measured by bench/dashboard.py at 100,000 paid deals)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
        return _dashboard(query, now or timezone.now(), lists=lists)


def _dashboard(query: DashboardQuery, now: datetime, *, lists: bool) -> Dashboard:
    through = rolled_through()
    figures = turnover_figures(query, through=through, lists=lists)
    totals = PaymentTotals(count=figures.money.count, amount=figures.money.amount)
    return Dashboard(
        query=query,
        totals=totals,
        tests=PaymentTotals(count=figures.tests.count, amount=figures.tests.amount),
        series=_series(query, figures),
        partners=_shares(figures.partners, totals.amount, unnamed="—") if lists else [],
        locations=_shares(figures.locations, totals.amount, unnamed="") if lists else [],
        conversion=_conversion(query, through),
        outstanding=_outstanding(query, now, listed=lists),
    )
