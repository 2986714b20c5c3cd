"""Writing CRM changes into the outbox, in the caller's transaction, then waking the sender.

The row is the source of truth: if the wake-up message is lost (Redis flushed, worker killed), the
sweeper finds the row and sends it. A deal's state is coalesced (one pending message per deal, and
the sender reads the current state when it sends); a note has its own key, so it is written once.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import (
    CrmConnection,
    DealStageEvent,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    StageEvent,
)
from .tasks import outbox_send

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


def outbox_lead_stage_enqueue(
    *, deal: Deal, event: str, target: CrmConnection | _LookUp | None = LOOK_UP
) -> OutboxMessage | None:
    """Queue "move the deal's lead to the stage mapped to `event`", once per (deal, event).

    Nothing is queued when no pipeline maps the event (a mapping added later does not move
    leads for what happened before it). Coalesced: the events of a deal join its pending
    message unless a sender holds that message right now (it has read its payload already);
    the sender moves the lead to the furthest of them. Raises ValueError for an unknown event.
    """
    event = StageEvent(event).value
    connection = _target(deal, target)
    if connection is None:
        return None
    if event not in (connection.mapped_stage_events or []):
        return None
    # Atomic by itself too (a savepoint inside the caller's transaction), so a flow may call it
    # either way; the wake-up still waits for the outermost commit.
    with transaction.atomic():
        return _lead_stage_enqueue(deal=deal, event=event, connection=connection)


def _lead_stage_enqueue(
    *, deal: Deal, event: str, connection: CrmConnection
) -> OutboxMessage | None:
    raised, created = DealStageEvent.objects.get_or_create(deal=deal, event=event)
    if not created:
        return None
    now = timezone.now()
    pending = (
        OutboxMessage.objects.select_for_update()
        .filter(kind=OutboxKind.LEAD_STAGE, deal=deal, status=OutboxStatus.PENDING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .first()
    )
    if pending is not None:
        events = [e for e in pending.payload.get("events", []) if e != event]
        pending.payload = {**pending.payload, "events": [*events, event]}
        pending.save(update_fields=["payload"])
        message = pending
    else:
        message = OutboxMessage.objects.create(
            connection=connection,
            kind=OutboxKind.LEAD_STAGE,
            deal=deal,
            payload={"events": [event]},
            dedupe_key=f"lead_stage:{deal.pk}:{uuid.uuid4().hex}",
            next_attempt_at=now,
        )
        _wake(message.pk)
    raised.message = message
    raised.save(update_fields=["message"])
    return message


def deal_outbox_messages(*, deal: Deal) -> list[OutboxMessage]:
    """The deal's CRM messages, oldest first (the deal page's history)."""
    return list(OutboxMessage.objects.filter(deal=deal).order_by("created_at"))
