"""What the periodic sweeper re-queues for the CRM: outbox rows due and not leased."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from .models import OutboxMessage, OutboxStatus


def outbox_requeue() -> int:
    from .tasks import outbox_send

    now = timezone.now()
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
