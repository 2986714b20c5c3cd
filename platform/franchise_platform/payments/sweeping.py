"""What the periodic sweeper re-queues for payments: accepted callbacks not applied in time."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .models import CallbackEvent, CallbackStatus
from .tasks import callback_apply_task


def callbacks_requeue() -> int:
    stale = CallbackEvent.objects.filter(
        status=CallbackStatus.PENDING,
        accepted=True,
        received_at__lt=timezone.now() - timedelta(seconds=settings.SWEEP_GRACE_SECONDS),
    ).values_list("pk", flat=True)[:500]
    count = 0
    for event_id in stale:
        callback_apply_task.delay(str(event_id))
        count += 1
    return count
