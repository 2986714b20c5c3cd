"""Delivering outbox messages to the CRM (flow 4).

Each message is claimed with a short lease (one sender at a time, even if its wake-up was
delivered twice), sent, and marked sent in the same step. Temporary failures are retried with
exponential backoff and full jitter, up to MAX_ATTEMPTS, then the row is dead and shows in the
panel with its error and a retry button. A revoked connection stops every call until reconnected.
Notes carry a marker of their message so a retry after a lost answer finds the note instead of
writing it twice.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from crm_connectors.base import CrmConnector, DealStateUpdate, FieldMap, LocationOption
from crm_connectors.errors import CrmAuthError, CrmError, CrmPaymentRequired, CrmRateLimited
from franchise_platform.network.models import Location
from franchise_platform.payments.models import Deal, LinkKind, LinkStatus
from tenants.services import network_base_url

from .connectors import connector_for, field_map_of
from .models import ConnectionStatus, CrmConnection, OutboxKind, OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE = 5.0  # seconds
BACKOFF_CAP = 15 * 60.0  # below the broker's visibility timeout (settings: 3600 s)
PAUSED = timedelta(hours=1)


def backoff_seconds(attempt: int) -> float:
    """Full jitter (AWS "Exponential Backoff and Jitter"): uniform in [0, min(cap, base·2^n)]."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(attempt - 1, 0)))  # noqa: S311


def _claim(message_id: str) -> OutboxMessage | None:
    now = timezone.now()
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
    from django.db import connection as db

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
    text = f"{message.payload.get('text', '')}\n{marker_for(message)}"
    # `attempts` counts this one (claimed above): a later attempt may follow one whose answer was
    # lost after amoCRM had stored the note, so it looks for the marker first.
    if message.attempts <= 1:
        return str(connector.add_note(message.deal.crm_deal_id, text))
    return str(connector.add_note_once(message.deal.crm_deal_id, text, marker=marker_for(message)))


def outbox_message_send(*, message_id: str) -> None:
    """Send one message if it is due and nobody else holds it. Never raises for CRM errors."""
    message = _claim(message_id)
    if message is None:
        return
    connection = message.connection
    now = timezone.now()
    if connection is None or connection.status != ConnectionStatus.CONNECTED:
        # Waits (without spending attempts) until the owner reconnects.
        OutboxMessage.objects.filter(pk=message.pk).update(
            lease_until=None, next_attempt_at=now + PAUSED, attempts=F("attempts") - 1
        )
        return
    try:
        external_id = _deliver(message, connection)
    except (CrmAuthError, CrmPaymentRequired) as exc:
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
        _failed(message, exc)
        return
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxStatus.SENT,
        sent_at=timezone.now(),
        lease_until=None,
        external_id=external_id[:64],
        last_error="",
    )


def _failed(message: OutboxMessage, exc: CrmError) -> None:
    from .tasks import outbox_send

    attempts = message.attempts
    error = f"{exc.code}: {exc.message}"[:500]
    if exc.permanent or attempts >= MAX_ATTEMPTS:
        OutboxMessage.objects.filter(pk=message.pk).update(
            status=OutboxStatus.DEAD, attempts=attempts, lease_until=None, last_error=error
        )
        logger.warning(
            "outbox message %s dead after %s attempts: %s", message.pk, attempts, exc.code
        )
        return
    delay = backoff_seconds(attempts)
    if isinstance(exc, CrmRateLimited) and exc.retry_after:
        delay = max(delay, float(exc.retry_after))
    OutboxMessage.objects.filter(pk=message.pk).update(
        attempts=attempts,
        lease_until=None,
        last_error=error,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )
    outbox_send.apply_async(args=[str(message.pk)], countdown=delay)


def outbox_message_retry(*, message_id: str) -> bool:
    """The panel's retry button: a dead message gets a fresh set of attempts."""
    from .tasks import outbox_send

    updated = OutboxMessage.objects.filter(pk=message_id, status=OutboxStatus.DEAD).update(
        status=OutboxStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), lease_until=None
    )
    if updated:
        outbox_send.delay(str(message_id))
    return bool(updated)
