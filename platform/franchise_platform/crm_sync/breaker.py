"""A circuit breaker per CRM account, kept on its CrmConnection row.

While an account's amoCRM keeps failing (5xx, 429, timeouts), every queued change trying it in
turn would only burn requests and the account's rate budget. After OUTBOX_BREAKER_THRESHOLD
transient failures in a row the breaker opens: messages are held without calling amoCRM, and one
probe at a time (a lease on the row, so a probe whose worker died is replaced) tries again after a
capped exponential backoff. The probe's success closes the breaker and wakes the held messages,
spread at the background rate. The database row is the only state: a lost Redis loses nothing,
and the sweeper finds held messages by their `next_attempt_at` as it finds any other.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from django.conf import settings
from django.db.models import F, Q

from crm_connectors.errors import CrmError, CrmRateLimited, CrmUnavailable

from .models import CrmConnection

# Our own limiter found no slot, or its Redis is down: says nothing about amoCRM's health.
_LOCAL_CODES = frozenset({"local_rate_limit", "limiter_unavailable"})
# Celery's Redis visibility timeout is 3600 s: no countdown may come near it (reliability §3.1).
_COUNTDOWN_CEILING = 3000.0


def backoff_cap_seconds() -> float:
    return min(float(settings.OUTBOX_BACKOFF_CAP_SECONDS), _COUNTDOWN_CEILING)


def lease() -> timedelta:
    return timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)


def probe_delay_seconds(probes: int, retry_after: float | None = None) -> float:
    """Equal jitter: half the exponential step fixed (the wait keeps growing), half random (so
    the accounts' probes do not march in step); capped; never before amoCRM's `retry_after`."""
    base = float(settings.OUTBOX_BACKOFF_BASE_SECONDS)
    step = min(backoff_cap_seconds(), base * 2.0 ** min(max(probes - 1, 0), 30))
    delay = step / 2 + random.uniform(0, step / 2)  # noqa: S311
    return min(max(delay, retry_after or 0.0), backoff_cap_seconds())


def counts_against_crm(exc: CrmError) -> bool:
    """An answer that says the CRM is unwell right now (not that our request was wrong)."""
    return isinstance(exc, CrmUnavailable) and exc.code not in _LOCAL_CODES


class Gate(Enum):
    SEND = "send"  # closed: send as usual
    PROBE = "probe"  # open, and this message is the one probe
    HOLD = "hold"  # open: do not call the CRM; wait until `until`


@dataclass(frozen=True)
class Admission:
    gate: Gate
    until: datetime | None = None


def breaker_admit(*, connection: CrmConnection, now: datetime) -> Admission:
    """May a message of this account call the CRM now? At most one PROBE at a time.
    `connection` is the row as just read with the claimed message."""
    if connection.breaker_open_since is None:
        return Admission(Gate.SEND)
    connection_id = connection.pk
    probe_at = connection.breaker_probe_at or now
    if probe_at > now:
        # Woken after the probe had time to answer: closed by then means woken earlier anyway.
        return Admission(Gate.HOLD, until=probe_at + lease())
    won = (
        CrmConnection.objects.filter(
            Q(breaker_probe_until__isnull=True) | Q(breaker_probe_until__lt=now),
            pk=connection_id,
            breaker_open_since__isnull=False,
        )
        .filter(Q(breaker_probe_at__isnull=True) | Q(breaker_probe_at__lte=now))
        .update(breaker_probe_until=now + lease())
    )
    if won:
        return Admission(Gate.PROBE)
    return Admission(Gate.HOLD, until=(connection.breaker_probe_until or now) + lease())


def breaker_failure(
    *, connection_id: uuid.UUID, exc: CrmError, probe: bool, now: datetime
) -> datetime | None:
    """Record a transient failure of the CRM. Returns when the next probe may run if the breaker
    is (now) open, else None."""
    retry_after = exc.retry_after if isinstance(exc, CrmRateLimited) else None
    if probe:
        counted = CrmConnection.objects.filter(pk=connection_id).values("breaker_probes").first()
        probes = (counted["breaker_probes"] if counted else 0) + 1
        probe_at = now + timedelta(seconds=probe_delay_seconds(probes, retry_after))
        CrmConnection.objects.filter(pk=connection_id).update(
            breaker_probes=probes,
            breaker_probe_at=probe_at,
            breaker_probe_until=None,
            breaker_failures=F("breaker_failures") + 1,
        )
        return probe_at
    CrmConnection.objects.filter(pk=connection_id).update(
        breaker_failures=F("breaker_failures") + 1
    )
    probe_at = now + timedelta(seconds=probe_delay_seconds(1, retry_after))
    CrmConnection.objects.filter(
        pk=connection_id,
        breaker_open_since__isnull=True,
        breaker_failures__gte=settings.OUTBOX_BREAKER_THRESHOLD,
    ).update(breaker_open_since=now, breaker_probes=1, breaker_probe_at=probe_at)
    row = (
        CrmConnection.objects.filter(pk=connection_id)
        .values("breaker_open_since", "breaker_probe_at")
        .first()
    )
    if row is None or row["breaker_open_since"] is None:
        return None
    return row["breaker_probe_at"] or probe_at


def breaker_success(*, connection_id: uuid.UUID) -> bool:
    """The CRM answered: reset the breaker. True when it was open (held messages must wake)."""
    was_open = CrmConnection.objects.filter(
        pk=connection_id, breaker_open_since__isnull=False
    ).exists()
    CrmConnection.objects.filter(
        Q(breaker_failures__gt=0) | Q(breaker_open_since__isnull=False), pk=connection_id
    ).update(
        breaker_failures=0,
        breaker_open_since=None,
        breaker_probes=0,
        breaker_probe_at=None,
        breaker_probe_until=None,
    )
    return was_open


def breaker_release_probe(*, connection_id: uuid.UUID) -> None:
    """A probe that learnt nothing about the CRM's health (e.g. our limiter had no slot) frees
    its lease so that the next message may probe."""
    CrmConnection.objects.filter(pk=connection_id).update(breaker_probe_until=None)
