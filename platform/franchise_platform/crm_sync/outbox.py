"""Writing CRM changes into the outbox, in the caller's transaction, then waking the sender.

The row is the source of truth: if the wake-up message is lost (Redis flushed, worker killed), the
sweeper finds the row and sends it. A deal's state is coalesced (one pending message per deal, and
the sender reads the current state when it sends); a note has its own key, so it is written once.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from .models import CrmConnection, OutboxKind, OutboxMessage, OutboxStatus

if TYPE_CHECKING:
    from franchise_platform.payments.models import Deal


class _LookUp:
    """The default of `target`: look the connection up."""


LOOK_UP = _LookUp()


def outbox_target(deal: Deal | None = None) -> CrmConnection | None:
    """Where a change goes. Queued even while access is revoked (sent after the owner reconnects);
    nowhere for a deal that came from another CRM. A caller queueing several changes of one deal
    looks this up once and passes it as `target`."""
    connection = CrmConnection.objects.order_by("connected_at").first()
    if connection is None or (deal is not None and deal.crm != connection.crm):
        return None
    return connection


def _target(deal: Deal | None, target: CrmConnection | _LookUp | None) -> CrmConnection | None:
    return outbox_target(deal) if isinstance(target, _LookUp) else target


def _wake(message_id: uuid.UUID) -> None:
    from .tasks import outbox_send

    transaction.on_commit(lambda: outbox_send.delay(str(message_id)))


def outbox_deal_state_enqueue(
    *, deal: Deal, target: CrmConnection | _LookUp | None = LOOK_UP
) -> OutboxMessage | None:
    """Queue "write this deal's links, paid sum and status into its lead" (coalesced per deal)."""
    connection = _target(deal, target)
    if connection is None:
        return None
    pending = (
        OutboxMessage.objects.select_for_update()
        .filter(kind=OutboxKind.DEAL_STATE, deal=deal, status=OutboxStatus.PENDING)
        .first()
    )
    if pending is not None:
        return pending
    message = OutboxMessage.objects.create(
        connection=connection,
        kind=OutboxKind.DEAL_STATE,
        deal=deal,
        dedupe_key=f"deal_state:{deal.pk}:{uuid.uuid4().hex}",
        next_attempt_at=timezone.now(),
    )
    _wake(message.pk)
    return message


def outbox_note_enqueue(
    *, deal: Deal, key: str, text: str, target: CrmConnection | _LookUp | None = LOOK_UP
) -> OutboxMessage | None:
    """Queue a note on the deal's lead; the same `key` never makes a second note."""
    connection = _target(deal, target)
    if connection is None:
        return None
    message, created = OutboxMessage.objects.get_or_create(
        dedupe_key=f"note:{key}",
        defaults={
            "connection": connection,
            "kind": OutboxKind.NOTE,
            "deal": deal,
            "payload": {"text": text},
            "next_attempt_at": timezone.now(),
        },
    )
    if created:
        _wake(message.pk)
    return message


def outbox_fields_sync_enqueue() -> OutboxMessage | None:
    """Queue "make the CRM's fields and location options match ours" (coalesced)."""
    connection = outbox_target()
    if connection is None:
        return None
    pending = OutboxMessage.objects.filter(
        kind=OutboxKind.FIELDS_SYNC, status=OutboxStatus.PENDING
    ).first()
    if pending is not None:
        return pending
    message = OutboxMessage.objects.create(
        connection=connection,
        kind=OutboxKind.FIELDS_SYNC,
        dedupe_key=f"fields_sync:{uuid.uuid4().hex}",
        next_attempt_at=timezone.now(),
    )
    _wake(message.pk)
    return message
