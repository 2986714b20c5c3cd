"""The outbox's "now": the system clock, unless settings.CRM_SYNC_CLOCK names another callable.

The sender, the circuit breaker and the outbox sweeper read time only through `outbox_now`, so a
test can move a real worker's clock forward (an hour of amoCRM outage in seconds) without
sleeping and without patching the process it does not run in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string


def _clock() -> Callable[[], datetime]:
    path = getattr(settings, "CRM_SYNC_CLOCK", "")
    return import_string(path) if path else timezone.now


def outbox_now() -> datetime:
    return _clock()()
