"""Calendar months in the network's time zone (settings.TIME_ZONE)."""

from __future__ import annotations

import re
from datetime import date, datetime

from django.utils import timezone

_PERIOD = re.compile(r"(\d{4})-(\d{2})")


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(period: date) -> date:
    return date(period.year + (period.month == 12), period.month % 12 + 1, 1)


def previous_month(period: date) -> date:
    return date(period.year - (period.month == 1), (period.month - 2) % 12 + 1, 1)


def month_bounds(period: date) -> tuple[datetime, datetime]:
    """[start, end) of the month as aware datetimes in the current time zone."""
    zone = timezone.get_current_timezone()
    start = datetime(period.year, period.month, 1, tzinfo=zone)
    end_day = next_month(period)
    end = datetime(end_day.year, end_day.month, 1, tzinfo=zone)
    return start, end


def last_closed_month(now: datetime | None = None) -> date:
    """The month that ended most recently (the one to draft)."""
    today = timezone.localdate(now or timezone.now())
    return previous_month(month_start(today))


def period_parse(text: str) -> date | None:
    """ "2026-11" → date(2026, 11, 1); None for anything else."""
    match = _PERIOD.fullmatch(text.strip())
    if not match:
        return None
    year, month = int(match[1]), int(match[2])
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        return None
    return date(year, month, 1)
