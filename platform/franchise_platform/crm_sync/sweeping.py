"""What the periodic sweeper does for the CRM: re-queue outbox rows due and not leased (their
wake-up was lost, or they wait on an account's circuit breaker: its state is in the database, so
a flushed Redis loses nothing), and tell the owner about rows that went dead (notices.py)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q

from .clock import outbox_now
from .models import OutboxMessage, OutboxStatus
from .tasks import outbox_send


def outbox_requeue() -> int:
    now = outbox_now()
    due = (
        OutboxMessage.objects.filter(
            status=OutboxStatus.PENDING,
            next_attempt_at__lte=now - timedelta(seconds=settings.SWEEP_GRACE_SECONDS),
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .values_list("pk", flat=True)[:500]
    )
    count = 0
    for message_id in due:
        outbox_send.delay(str(message_id))
        count += 1
    return count
