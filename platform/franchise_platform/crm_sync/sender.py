"""Delivering outbox messages to the CRM (flow 4).

Each message is claimed with a short lease (one sender at a time, even if its wake-up was
delivered twice), sent, and marked sent in the same step. Temporary failures are retried with
capped exponential backoff and full jitter for OUTBOX_RETRY_HOURS (72 h by default: a count of
attempts is spent by a 90-second outage, a time window is not); only then, or on an answer that
can never succeed, is the row dead, shown in the panel with a retry button and e-mailed to the
owner (notices.py). While the account's CRM keeps failing, its circuit breaker (breaker.py) holds
every message but one probe. A revoked connection stops every call until reconnected. Notes carry
a marker of their message so a retry after a lost answer finds the note instead of writing it
twice. Time is read through `outbox_now` (clock.py).
"""

from __future__ import annotations

import logging
import random
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection as db
from django.db import transaction
from django.db.models import F, Q

from crm_connectors.base import CrmConnector, DealStateUpdate, FieldMap, LocationOption
from crm_connectors.errors import CrmAuthError, CrmError, CrmPaymentRequired, CrmRateLimited
from franchise_platform.network.models import Location
from franchise_platform.observability.metrics import metric_crm_rate_limited
from franchise_platform.payments.models import Deal, LinkKind, LinkStatus
from tenants.services import network_base_url

from .breaker import (
    Gate,
    backoff_cap_seconds,
    breaker_admit,
    breaker_failure,
    breaker_release_probe,
    breaker_success,
    counts_against_crm,
)
from .clock import outbox_now
from .connectors import connector_for, field_map_of
from .models import ConnectionStatus, CrmConnection, OutboxKind, OutboxMessage, OutboxStatus
from .stages import lead_stage_deliver
from .tasks import outbox_send

logger = logging.getLogger(__name__)

PAUSED = timedelta(hours=1)
# Rows woken at once (a closed breaker, «Повторить все»); the sweeper takes the rest.
WAKE_BATCH = 500


def backoff_seconds(attempt: int) -> float:
    """Full jitter (AWS "Exponential Backoff and Jitter"): uniform in [0, min(cap, base·2^n)];
    the cap (OUTBOX_BACKOFF_CAP_SECONDS) stays below the broker's visibility timeout."""
    step = float(settings.OUTBOX_BACKOFF_BASE_SECONDS) * 2.0 ** min(max(attempt - 1, 0), 30)
    return random.uniform(0, min(backoff_cap_seconds(), step))  # noqa: S311


def retry_deadline(message: OutboxMessage) -> datetime:
    """After this a transient failure makes the row dead instead of retrying it."""
    return (message.retry_since or message.created_at) + timedelta(
        hours=settings.OUTBOX_RETRY_HOURS
    )


def _claim(message_id: str) -> OutboxMessage | None:
    now = outbox_now()
    claimed = OutboxMessage.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        pk=message_id,
        status=OutboxStatus.PENDING,
        next_attempt_at__lte=now,
    ).update(
        lease_until=now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS),
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return None
    return OutboxMessage.objects.select_related("connection", "deal").get(pk=message_id)


def marker_for(message: OutboxMessage) -> str:
    return f"[ref {str(message.pk)[:8]}]"


def _deal_update(deal: Deal) -> DealStateUpdate:
    base = network_base_url(db.tenant)  # type: ignore[attr-defined]

    def url(kind: str) -> str | None:
        # The active link if there is one, else the newest (paid or closed) for the record.
        links = deal.links.filter(kind=kind)
        chosen = (
            links.filter(status=LinkStatus.ACTIVE).first() or links.order_by("-created_at").first()
        )
        return f"{base}/pay/{chosen.token}" if chosen else None

    return DealStateUpdate(
        lead_id=deal.crm_deal_id,
        prepayment_url=url(LinkKind.PREPAYMENT),
        full_url=url(LinkKind.FULL),
        paid_sum=deal.paid,
        status_label=deal.status,
    )


def fields_ensure(connection: CrmConnection, connector: CrmConnector) -> FieldMap:
    """Create or find the lead fields; the location options follow the network's locations."""
    locations = [
        LocationOption(key=str(loc.pk), name=loc.name, active=loc.active)
        for loc in Location.objects.order_by("name")
    ]
    fields = connector.ensure_fields(locations, field_map_of(connection))
    CrmConnection.objects.filter(pk=connection.pk).update(field_map=fields.to_dict())
    return fields


def _deliver(message: OutboxMessage, connection: CrmConnection) -> str:
    connector = connector_for(connection, background=True)
    if message.kind == OutboxKind.FIELDS_SYNC:
        fields_ensure(connection, connector)
        return ""
    fields = field_map_of(connection) or fields_ensure(connection, connector)
    assert message.deal is not None
    if message.kind == OutboxKind.DEAL_STATE:
        connector.write_deal_state(_deal_update(message.deal), fields)
        return ""
    if message.kind == OutboxKind.LEAD_STAGE:
        return lead_stage_deliver(
            message=message, connection=connection, connector=connector, fields=fields
        )
    text = f"{message.payload.get('text', '')}\n{marker_for(message)}"
    # `attempts` counts this one (claimed above): a later attempt may follow one whose answer was
    # lost after amoCRM had stored the note, so it looks for the marker first (also after a
    # manual retry of a dead note: its `last_error` stays).
    if message.attempts <= 1 and not message.last_error:
        return str(connector.add_note(message.deal.crm_deal_id, text))
    return str(connector.add_note_once(message.deal.crm_deal_id, text, marker=marker_for(message)))


def outbox_message_send(*, message_id: str) -> None:
    """Send one message if it is due and nobody else holds it. Never raises for CRM errors."""
    message = _claim(message_id)
    if message is None:
        return
    connection = message.connection
    now = outbox_now()
    if connection is None or connection.status != ConnectionStatus.CONNECTED:
        # Waits (without spending attempts) until the owner reconnects; the time without access
        # does not count against its retry window.
        OutboxMessage.objects.filter(pk=message.pk).update(
            lease_until=None,
            next_attempt_at=now + PAUSED,
            attempts=F("attempts") - 1,
            retry_since=now,
        )
        return
    admission = breaker_admit(connection=connection, now=now)
    if admission.gate is Gate.HOLD:
        assert admission.until is not None
        _hold(message, until=admission.until, now=now)
        return
    probe = admission.gate is Gate.PROBE
    try:
        external_id = _deliver(message, connection)
    except (CrmAuthError, CrmPaymentRequired) as exc:
        if probe:
            breaker_release_probe(connection_id=connection.pk)
        CrmConnection.objects.filter(pk=connection.pk).update(
            status=ConnectionStatus.REVOKED, last_error=f"{exc.code}: {exc.message}"[:500]
        )
        OutboxMessage.objects.filter(pk=message.pk).update(
            lease_until=None,
            next_attempt_at=now + PAUSED,
            last_error=f"{exc.code}"[:500],
            attempts=F("attempts") - 1,
        )
        logger.warning("CRM access lost for account %s: %s", connection.account_id, exc.code)
        return
    except CrmError as exc:
        probe_at = None
        if isinstance(exc, CrmRateLimited) and exc.status == 429:
            metric_crm_rate_limited(crm=connection.crm)
        if counts_against_crm(exc):
            probe_at = breaker_failure(
                connection_id=connection.pk, exc=exc, probe=probe, now=outbox_now()
            )
        elif exc.permanent:
            # amoCRM answered (it refused this one message): the account itself is healthy.
            _crm_answered(connection, probe=probe)
        elif probe:  # our own limiter had no slot: the probe learnt nothing
            breaker_release_probe(connection_id=connection.pk)
        _failed(message, exc, not_before=probe_at)
        return
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxStatus.SENT,
        sent_at=outbox_now(),
        lease_until=None,
        external_id=external_id[:64],
        last_error="",
    )
    _crm_answered(connection, probe=probe)


def _crm_answered(connection: CrmConnection, *, probe: bool) -> None:
    """Reset the account's breaker after an answer (the row as read at the claim tells whether
    there is anything to reset, so a healthy account costs no statement here)."""
    if (probe or connection.breaker_failures or connection.breaker_open_since) and breaker_success(
        connection_id=connection.pk
    ):
        _wake_held(connection)


def _dead(message: OutboxMessage, *, error: str) -> None:
    OutboxMessage.objects.filter(pk=message.pk, status=OutboxStatus.PENDING).update(
        status=OutboxStatus.DEAD,
        attempts=message.attempts,
        lease_until=None,
        last_error=error,
        dead_notified_at=None,
    )
    logger.warning(
        "outbox message %s dead after %s attempts: %s", message.pk, message.attempts, error[:80]
    )


def _hold(message: OutboxMessage, *, until: datetime, now: datetime) -> None:
    """The breaker is open: no call, no attempt spent; back when the probe has answered."""
    if now >= retry_deadline(message):
        message.attempts -= 1
        _dead(message, error=message.last_error or "crm_unavailable: retry window closed")
        return
    OutboxMessage.objects.filter(pk=message.pk).update(
        lease_until=None, next_attempt_at=until, attempts=F("attempts") - 1
    )


def _failed(message: OutboxMessage, exc: CrmError, *, not_before: datetime | None) -> None:
    error = f"{exc.code}: {exc.message}"[:500]
    now = outbox_now()
    if exc.permanent or now >= retry_deadline(message):
        _dead(message, error=error)
        return
    delay = backoff_seconds(message.attempts)
    if isinstance(exc, CrmRateLimited) and exc.retry_after:
        delay = max(delay, float(exc.retry_after))
    if not_before is not None:  # the breaker is open: this message probes next
        delay = max(delay, (not_before - now).total_seconds())
    delay = min(delay, backoff_cap_seconds())
    OutboxMessage.objects.filter(pk=message.pk).update(
        attempts=message.attempts,
        lease_until=None,
        last_error=error,
        next_attempt_at=now + timedelta(seconds=delay),
    )
    outbox_send.apply_async(args=[str(message.pk)], countdown=delay)


def outbox_wake_spread(*, message_ids: list[uuid.UUID], now: datetime) -> int:
    """Make these pending rows due from now on, spread at the account's background rate (a
    crowd woken at once would only queue at the rate limiter), and queue their wake-ups once the
    caller's transaction commits; rows past WAKE_BATCH are made due after them and left to the
    sweeper. Returns how many rows it touched."""
    spacing = 1.0 / max(settings.AMOCRM_BACKGROUND_RATE_PER_SECOND, 1)
    first, rest = message_ids[:WAKE_BATCH], message_ids[WAKE_BATCH:]
    rows = [
        OutboxMessage(pk=pk, next_attempt_at=now + timedelta(seconds=i * spacing))
        for i, pk in enumerate(first)
    ]
    OutboxMessage.objects.bulk_update(rows, ["next_attempt_at"], batch_size=WAKE_BATCH)
    if rest:
        OutboxMessage.objects.filter(pk__in=rest).update(
            next_attempt_at=now + timedelta(seconds=len(first) * spacing)
        )

    def queue() -> None:
        for i, pk in enumerate(first):
            outbox_send.apply_async(args=[str(pk)], countdown=i * spacing)

    transaction.on_commit(queue)
    return len(message_ids)


def _wake_held(connection: CrmConnection) -> None:
    now = outbox_now()
    held = list(
        OutboxMessage.objects.filter(connection=connection, status=OutboxStatus.PENDING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("created_at")
        .values_list("pk", flat=True)
    )
    if held:
        logger.info(
            "CRM account %s answers again: %s held messages woken",
            connection.account_id,
            len(held),
        )
        outbox_wake_spread(message_ids=held, now=now)


def outbox_message_retry(*, message_id: str) -> bool:
    """The panel's retry button: a dead message gets a new retry window and is sent again."""
    return outbox_messages_retry(message_ids=[uuid.UUID(str(message_id))]) == 1


def outbox_messages_retry(*, message_ids: list[uuid.UUID] | None = None) -> int:
    """Dead messages (these, or every dead one) back in the queue with a new retry window,
    spread at the background rate. Returns how many were revived."""
    now = outbox_now()
    with transaction.atomic():
        dead = OutboxMessage.objects.select_for_update(skip_locked=True).filter(
            status=OutboxStatus.DEAD
        )
        if message_ids is not None:
            dead = dead.filter(pk__in=message_ids)
        ids = list(dead.order_by("created_at").values_list("pk", flat=True))
        if not ids:
            return 0
        # `last_error` stays: a note whose answer was lost before it died is looked for
        # before it is written again (_deliver); the backoff starts small again.
        OutboxMessage.objects.filter(pk__in=ids).update(
            status=OutboxStatus.PENDING,
            attempts=0,
            lease_until=None,
            retry_since=now,
            dead_notified_at=None,
        )
        return outbox_wake_spread(message_ids=ids, now=now)
