"""What the periodic sweeper re-queues for the CRM: outbox rows due and not leased."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from .models import OutboxMessage, OutboxStatus

# A row just written has its own wake-up on the way; only older ones are presumed lost.
GRACE = timedelta(seconds=30)


def outbox_requeue() -> int:
    from .tasks import outbox_send

    now = timezone.now()
    due = (
        OutboxMessage.objects.filter(status=OutboxStatus.PENDING, next_attempt_at__lte=now - GRACE)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .values_list("pk", flat=True)[:500]
    )
    count = 0
    for message_id in due:
        outbox_send.delay(str(message_id))
        count += 1
    return count
