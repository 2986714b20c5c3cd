"""A clock that tests move forward, shared with the processes they start (a Celery worker).

The offset lives in a small file named by TEST_CLOCK_FILE, so the test process (and the fake
amoCRM in it) and a worker started with CRM_SYNC_CLOCK=tests.fakes.clock.shared_now read the same
"now": an hour of outage passes in one `shift(3600)`, nobody sleeps.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from django.utils import timezone

ENV = "TEST_CLOCK_FILE"


class SharedClock:
    def __init__(self, path: Path) -> None:
        self.path = path

    def offset(self) -> float:
        try:
            return float(self.path.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0.0

    def shift(self, seconds: float) -> None:
        """Move "now" forward (never back: rows stamped with the shifted time stay in the past)."""
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(repr(self.offset() + seconds))
        tmp.replace(self.path)  # atomic: a reader never sees a half-written number

    def now(self) -> datetime:
        return timezone.now() + timedelta(seconds=self.offset())


def shared_now() -> datetime:
    """CRM_SYNC_CLOCK for the sender: real time plus the offset in $TEST_CLOCK_FILE."""
    return SharedClock(Path(os.environ[ENV])).now()
