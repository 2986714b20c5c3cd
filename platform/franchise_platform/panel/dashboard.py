"""The network's dashboard: turnover over time, by partner and by location, links issued → paid,
prepayments still outstanding, and test payments kept apart.

Every figure is aggregated in PostgreSQL (date_trunc and GROUP BY; a handful of queries whatever the
number of payments), and every money figure starts from `payment_search`, the payments list's own
selector, with the same arguments the list's filter gives it: the dashboard and the list cannot
disagree about which payments a period holds. Test payments are never money: they are counted
apart and left out of every sum, as `payment_totals` leaves them out of the list's total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from django.db.models import Aggregate, Count, DurationField, F, Min, Q, QuerySet, Sum
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

Grain = Literal["day", "week", "month"]
ZERO = Decimal("0.00")
# A partly paid deal whose service starts within this many days (or has started) is outstanding.
OUTSTANDING_HORIZON = timedelta(days=3)
OUTSTANDING_SHOWN = 20
# Partners and locations listed by name; the rest of them is one row (the sum stays whole).
SHARES_SHOWN = 20


class Median(Aggregate):
    """PostgreSQL's continuous median (works on intervals too)."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False


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


def _series(query: DashboardQuery) -> list[Bucket]:
    rows = (
        _money_payments(query)
        .annotate(bucket=Trunc("paid_at", query.grain, tzinfo=timezone.get_current_timezone()))
        .values("bucket")
        .annotate(amount=Sum("amount"), count=Count("pk"))
    )
    found = {timezone.localtime(row["bucket"]).date(): row for row in rows}
    series = []
    for start in bucket_starts(query.since, query.until, query.grain):
        row = found.get(start)
        series.append(Bucket(start, row["amount"] if row else ZERO, row["count"] if row else 0))
    return series


def _percent(amount: Decimal, total: Decimal) -> Decimal:
    return (amount * 100 / total).quantize(Decimal("0.1")) if total else Decimal("0.0")


def _shares(rows: Any, total: Decimal, *, key: str, name: str, unnamed: str) -> list[Share]:
    shares: list[Share] = []
    rest: list[Share] = []
    for row in rows:
        amount = row["amount"] or ZERO
        share = Share(
            key=str(row[key]) if row[key] else "",
            name=row[name] or unnamed,
            amount=amount,
            count=row["count"],
            percent=_percent(amount, total),
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


def _conversion(query: DashboardQuery, since: datetime, until: datetime) -> Conversion:
    issued_links = PaymentLink.objects.filter(created_at__gte=since, created_at__lt=until)
    deals = Deal.objects.filter(pk__in=issued_links.values("deal_id"))
    if query.partner_id:
        deals = deals.filter(partner_id=_uuid_or_none(query.partner_id) or NOTHING)
    if query.location_id:
        deals = deals.filter(location_id=_uuid_or_none(query.location_id) or NOTHING)
    firsts = (
        deals.order_by()
        .annotate(
            first_link=Min("links__created_at"),
            first_paid=Min("payments__paid_at", filter=Q(payments__is_test=False)),
        )
        # A deal counts in the period its first link was issued, not again when re-priced later.
        .filter(first_link__gte=since)
    )
    figures = firsts.aggregate(
        issued=Count("pk"),
        paid=Count("pk", filter=Q(first_paid__isnull=False)),
        median=Median(F("first_paid") - F("first_link"), output_field=DurationField()),
    )
    return Conversion(issued=figures["issued"], paid=figures["paid"], median=figures["median"])


def _outstanding(query: DashboardQuery, now: datetime) -> Outstanding:
    deals = Deal.objects.filter(
        status=DealStatus.PARTIALLY_PAID, service_date__lt=now + OUTSTANDING_HORIZON
    )
    if query.partner_id:
        deals = deals.filter(partner_id=_uuid_or_none(query.partner_id) or NOTHING)
    if query.location_id:
        deals = deals.filter(location_id=_uuid_or_none(query.location_id) or NOTHING)
    figures = deals.order_by().aggregate(count=Count("pk"), total=Sum("total"), paid=Sum("paid"))
    remaining = (figures["total"] or ZERO) - (figures["paid"] or ZERO)
    shown = list(
        deals.select_related("partner", "location").order_by("service_date", "pk")[
            :OUTSTANDING_SHOWN
        ]
    )
    return Outstanding(count=figures["count"], remaining=max(remaining, ZERO), deals=shown)


def dashboard_get(*, query: DashboardQuery, now: datetime | None = None) -> Dashboard:
    """Every figure of the dashboard for `query`, in eight queries whatever the data's size."""
    now = now or timezone.now()
    args = query.search_args()
    listed = payment_search(**args)
    totals = payment_totals(payments=listed)
    test_figures = (
        listed.filter(is_test=True).order_by().aggregate(count=Count("pk"), amount=Sum("amount"))
    )
    money = _money_payments(query)
    by_partner = (
        money.values("partner_id", "partner__name")
        .annotate(amount=Sum("amount"), count=Count("pk"))
        .order_by("-amount", "partner__name")
    )
    by_location = (
        money.values("deal__location_id", "deal__location__name")
        .annotate(amount=Sum("amount"), count=Count("pk"))
        .order_by("-amount", "deal__location__name")
    )
    return Dashboard(
        query=query,
        totals=totals,
        tests=PaymentTotals(count=test_figures["count"], amount=test_figures["amount"] or ZERO),
        series=_series(query),
        partners=_shares(
            by_partner, totals.amount, key="partner_id", name="partner__name", unnamed="—"
        ),
        locations=_shares(
            by_location,
            totals.amount,
            key="deal__location_id",
            name="deal__location__name",
            unnamed="",
        ),
        conversion=_conversion(query, args["since"], args["until"]),
        outstanding=_outstanding(query, now),
    )
