"""Handing stored callbacks to the worker without making the provider wait for the broker.

By the time a notification is answered, its event row is committed (callbacks.py): that row, not
the Celery message, is what makes the payment durable. Publishing the message used to happen in
the request, after the commit, and it was the dearest part of the answer (kombu builds and sends a
message per callback). Here the request only puts the event's id on an in-process queue; one
daemon thread per process publishes one `payments.callback_apply_batch` message per network: a
lone event at once, and during a burst what gathers within `CALLBACK_HANDOFF_WINDOW_MS` of the
previous publish (fewer messages, and fewer tasks for the worker, when the cores are busiest).

What can go wrong, and why nothing is lost:
- the broker is down, or the process dies before its thread has published: the events stay
  `pending`, and the sweeper re-queues every accepted event left pending for
  `SWEEP_GRACE_SECONDS` (payments/sweeping.py);
- a fork (gunicorn's workers, Celery's prefork children): the thread does not survive it; the
  first hand-off in the new process starts a new one.

`CALLBACK_HANDOFF = "inline"` publishes in the request instead (one message per event), as before.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from collections import defaultdict

from django.conf import settings

from .tasks import callback_apply_batch_task, callback_apply_task

logger = logging.getLogger(__name__)

# The most events one message carries: a worker child applies them one after another.
BATCH_MAX = 20


class _Handoff:
    def __init__(self, window: float) -> None:
        self.window = window
        self.queue: queue.SimpleQueue[tuple[str, str] | None] = queue.SimpleQueue()
        self.pid = os.getpid()
        self.thread = threading.Thread(target=self._run, name="callback-handoff", daemon=True)
        self.thread.start()

    def submit(self, schema: str, event_id: str) -> None:
        self.queue.put((schema, event_id))

    def flush_and_stop(self, timeout: float = 2.0) -> None:
        self.queue.put(None)
        self.thread.join(timeout)

    def _run(self) -> None:
        last_publish = float("-inf")
        while True:
            first = self.queue.get()
            if first is None:
                return
            batch = [first]
            # After a whole window without a publish, this event goes at once (with whatever is
            # queued already): a lone payment waits for nothing. Close behind a publish, what
            # arrives until the window has passed is gathered into one message (a burst).
            deadline = max(time.monotonic(), last_publish + self.window)
            stop = False
            while len(batch) < BATCH_MAX:
                remaining = deadline - time.monotonic()
                try:
                    item = (
                        self.queue.get(timeout=remaining)
                        if remaining > 0
                        else self.queue.get_nowait()
                    )
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            _publish(batch)
            last_publish = time.monotonic()
            if stop:
                return


def _publish(batch: list[tuple[str, str]]) -> None:
    by_schema: dict[str, list[str]] = defaultdict(list)
    for schema, event_id in batch:
        by_schema[schema].append(event_id)
    for schema, event_ids in by_schema.items():
        try:
            callback_apply_batch_task.apply_async(
                args=[event_ids], headers={"_schema_name": schema}
            )
        except Exception:
            # The events stay pending: the sweeper queues them again after its grace period.
            logger.exception(
                "callback hand-off failed for %d event(s) of %s; the sweeper will retry",
                len(event_ids),
                schema,
            )


_current: _Handoff | None = None
_lock = threading.Lock()


def _handoff() -> _Handoff:
    global _current
    current = _current
    if current is not None and current.pid == os.getpid() and current.thread.is_alive():
        return current
    with _lock:
        if _current is None or _current.pid != os.getpid() or not _current.thread.is_alive():
            _current = _Handoff(settings.CALLBACK_HANDOFF_WINDOW_MS / 1000)
        return _current


def callback_handoff(*, schema: str, event_id: str) -> None:
    """Have the worker apply a stored, accepted event (after its row is committed)."""
    if settings.CALLBACK_HANDOFF == "inline":
        callback_apply_task.apply_async(args=[event_id], headers={"_schema_name": schema})
        return
    _handoff().submit(schema, event_id)


@atexit.register
def _flush_at_exit() -> None:
    # A process ending in order (gunicorn's graceful stop) publishes what it still holds.
    current = _current
    if current is not None and current.pid == os.getpid() and current.thread.is_alive():
        current.flush_and_stop()
