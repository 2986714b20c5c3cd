"""The dashboard's daily rollup: closed days' payments summed per day × partner × location × test
flag, so a year's dashboard adds up a few thousand rows instead of joining every payment to its deal.

The payments stay the source of truth and are never touched here. A refresh (a beat task every
minute, reporting/tasks.py) rolls up the days that closed since the last one, and rebuilds every
rolled day holding a payment of a deal saved since the last refresh: applying a payment or a refund
and moving a deal to another location all save the deal (its `updated_at`), so a payment recorded
late for a closed day (a lost callback found by reconciliation) and a deal moved to another location
are caught without reading the whole table. The dashboard (panel/dashboard.py) reads days up to
`through_day` from here and computes the rest live from the payments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from franchise_platform.payments.models import Deal, Payment, PaymentLink

from .models import DailyTurnover, DealFunnel, MonthlyTurnover, TurnoverRollup, WeeklyTurnover

# A deal saved just before a refresh may commit just after it: the next refresh looks back this far.
LOOK_BACK = timedelta(minutes=10)

_REBUILD_SQL = """
INSERT INTO {rollup} (day, partner_id, location_id, is_test, amount, count)
SELECT (p.paid_at AT TIME ZONE %(tz)s)::date, p.partner_id, d.location_id, p.is_test,
       SUM(p.amount), COUNT(*)
FROM {payment} p JOIN {deal} d ON d.id = p.deal_id
WHERE p.paid_at >= %(since)s AND p.paid_at < %(until)s
GROUP BY 1, 2, 3, 4
"""

_MONTH_SQL = """
INSERT INTO {monthly} (month, partner_id, location_id, is_test, amount, count)
SELECT %(month)s, partner_id, location_id, is_test, SUM(amount), SUM(count)
FROM {rollup}
WHERE day >= %(month)s AND day < %(next_month)s
GROUP BY 2, 3, 4
"""

# Each deal's first link (ties broken by id, as the dashboard's live query breaks them) and first
# real payment; `{deals}` narrows it to the deals that changed.
_FUNNEL_SQL = """
INSERT INTO {funnel} (deal_id, partner_id, location_id, first_link_at, first_link_day,
                      first_paid_at)
SELECT d.id, d.partner_id, d.location_id, fl.created_at, (fl.created_at AT TIME ZONE %(tz)s)::date,
       (SELECT MIN(p.paid_at) FROM {payment} p WHERE p.deal_id = d.id AND NOT p.is_test)
FROM {deal} d
JOIN LATERAL (
    SELECT l.created_at FROM {link} l WHERE l.deal_id = d.id ORDER BY l.created_at, l.id LIMIT 1
) fl ON true
{deals}
ON CONFLICT (deal_id) DO UPDATE SET
    partner_id = EXCLUDED.partner_id, location_id = EXCLUDED.location_id,
    first_link_at = EXCLUDED.first_link_at, first_link_day = EXCLUDED.first_link_day,
    first_paid_at = EXCLUDED.first_paid_at
"""

_CHANGED_DEALS = """
WHERE d.id IN (
    SELECT id FROM {deal} WHERE updated_at >= %(changed_since)s
    UNION SELECT deal_id FROM {link} WHERE created_at >= %(changed_since)s
)
"""

_WEEK_SQL = """
INSERT INTO {weekly} (week, partner_id, is_test, amount, count)
SELECT %(week)s, partner_id, is_test, SUM(amount), SUM(count)
FROM {rollup}
WHERE day >= %(week)s AND day < %(next_week)s
GROUP BY 2, 3
"""

_CHANGED_DAYS_SQL = """
SELECT DISTINCT (p.paid_at AT TIME ZONE %(tz)s)::date
FROM {payment} p JOIN {deal} d ON d.id = p.deal_id
WHERE d.updated_at >= %(changed_since)s AND p.paid_at < %(until)s
"""


@dataclass(frozen=True)
class RefreshResult:
    through_day: date
    days_rebuilt: int


def day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def _sql(template: str) -> str:
    quote = connection.ops.quote_name
    return template.format(
        rollup=quote(DailyTurnover._meta.db_table),
        monthly=quote(MonthlyTurnover._meta.db_table),
        funnel=quote(DealFunnel._meta.db_table),
        weekly=quote(WeeklyTurnover._meta.db_table),
        link=quote(PaymentLink._meta.db_table),
        payment=quote(Payment._meta.db_table),
        deal=quote(Deal._meta.db_table),
    )


def _runs(days: set[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) runs: each run is rebuilt by one index range."""
    runs: list[tuple[date, date]] = []
    for day in sorted(days):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _rebuild(first: date, last: date) -> None:
    DailyTurnover.objects.filter(day__gte=first, day__lte=last).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            _sql(_REBUILD_SQL),
            {
                "tz": settings.TIME_ZONE,
                "since": day_start(first),
                "until": day_start(last + timedelta(days=1)),
            },
        )


def month_after(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def _refresh_funnel(changed_since: datetime | None) -> None:
    """Every deal's funnel row (a first build), or those of deals saved or linked since then."""
    deals = "" if changed_since is None else _CHANGED_DEALS
    if changed_since is None:
        DealFunnel.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(
            _sql(_FUNNEL_SQL.replace("{deals}", deals)),
            {"tz": settings.TIME_ZONE, "changed_since": changed_since},
        )


def _rebuild_months(runs: list[tuple[date, date]]) -> None:
    """Add up again every month holding a rebuilt day."""
    months: set[date] = set()
    for first, last in runs:
        month = first.replace(day=1)
        while month <= last:
            months.add(month)
            month = month_after(month)
    for month in sorted(months):
        MonthlyTurnover.objects.filter(month=month).delete()
        with connection.cursor() as cursor:
            cursor.execute(_sql(_MONTH_SQL), {"month": month, "next_month": month_after(month)})


def _rebuild_weeks(runs: list[tuple[date, date]]) -> None:
    """Add up again every week holding a rebuilt day."""
    weeks: set[date] = set()
    for first, last in runs:
        week = first - timedelta(days=first.weekday())
        while week <= last:
            weeks.add(week)
            week += timedelta(days=7)
    for week in sorted(weeks):
        WeeklyTurnover.objects.filter(week=week).delete()
        with connection.cursor() as cursor:
            cursor.execute(_sql(_WEEK_SQL), {"week": week, "next_week": week + timedelta(days=7)})


def turnover_rollup_refresh(*, now: datetime | None = None) -> RefreshResult:
    """Bring the rollup up to the last closed day and rebuild the rolled days that changed.
    Idempotent; concurrent refreshes wait for each other (the state row is locked)."""
    started = now or timezone.now()
    yesterday = timezone.localdate(started) - timedelta(days=1)
    with transaction.atomic():
        TurnoverRollup.objects.get_or_create(pk=1)
        state = TurnoverRollup.objects.select_for_update().get(pk=1)
        days: set[date] = set()
        if state.through_day is None or state.checked_from is None:
            first = Payment.objects.order_by("paid_at").values_list("paid_at", flat=True).first()
            runs = [(timezone.localdate(first), yesterday)] if first else []
            DailyTurnover.objects.all().delete()
            MonthlyTurnover.objects.all().delete()
            WeeklyTurnover.objects.all().delete()
        else:
            if state.through_day < yesterday:
                days.update(
                    state.through_day + timedelta(days=n + 1)
                    for n in range((yesterday - state.through_day).days)
                )
            with connection.cursor() as cursor:
                cursor.execute(
                    _sql(_CHANGED_DAYS_SQL),
                    {
                        "tz": settings.TIME_ZONE,
                        "changed_since": state.checked_from,
                        "until": day_start(yesterday + timedelta(days=1)),
                    },
                )
                days.update(row[0] for row in cursor.fetchall())
            runs = _runs(days)
        for first_day, last_day in runs:
            if first_day <= last_day:
                _rebuild(first_day, last_day)
        _rebuild_months([(a, b) for a, b in runs if a <= b])
        _rebuild_weeks([(a, b) for a, b in runs if a <= b])
        full = state.through_day is None or state.checked_from is None
        _refresh_funnel(None if full else state.checked_from)
        if full:
            # Fresh tables: the planner's row estimates come before autovacuum's next visit.
            with connection.cursor() as cursor:
                for model in (DailyTurnover, MonthlyTurnover, WeeklyTurnover, DealFunnel):
                    cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        state.through_day = yesterday
        state.checked_from = started - LOOK_BACK
        state.refreshed_at = started
        state.save()
    return RefreshResult(
        through_day=yesterday, days_rebuilt=sum((b - a).days + 1 for a, b in runs if a <= b)
    )


def rolled_through() -> date | None:
    """The last day the rollup holds (None: nothing rolled up yet, every figure is live)."""
    return TurnoverRollup.objects.filter(pk=1).values_list("through_day", flat=True).first()
