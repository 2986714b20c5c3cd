"""Celery: task latency metrics, the task id as the log's request id, JSON logs in every process.

* ``before_task_publish`` stamps the publish time into the message headers, so the worker can
  measure how long the task waited in the queue.
* ``task_prerun`` / ``task_postrun`` time each task and label it with its network (set by
  tenant-schemas-celery, whose own prerun handler runs first because it connects at import).
  While the task runs, the log filter's request id is the task id.
* ``setup_logging`` keeps Celery from replacing the root logger's handlers: worker and beat log
  through Django's LOGGING (JSON, request id, network, scrubbed), like the web.
"""

from __future__ import annotations

import contextvars
import threading
import time
from logging.config import dictConfig
from typing import Any

from celery import signals
from django.conf import settings

from franchise_platform.request_context import network_label, request_id_var

from .metrics import metric_task_finished
from .worker_server import start_worker_metrics_server

PUBLISHED_AT_HEADER = "fp_published_at"

_lock = threading.Lock()
_running: dict[str, tuple[float, str, float | None, contextvars.Token[str]]] = {}


def _task_name(task: Any) -> str:
    return str(getattr(task, "name", None) or "unknown")


def _stamp_published(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is not None:
        headers.setdefault(PUBLISHED_AT_HEADER, time.time())


def _published_at(task: Any) -> float | None:
    request = getattr(task, "request", None)
    value = getattr(request, PUBLISHED_AT_HEADER, None) if request is not None else None
    if value is None and request is not None:
        value = (getattr(request, "headers", None) or {}).get(PUBLISHED_AT_HEADER)
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _task_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if not task_id:
        return
    published = _published_at(task)
    wait = time.time() - published if published is not None else None
    token = request_id_var.set(str(task_id))
    with _lock:
        _running[str(task_id)] = (time.monotonic(), network_label(), wait, token)


def _task_finished(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    if not task_id:
        return
    with _lock:
        entry = _running.pop(str(task_id), None)
    if entry is None:
        return
    started, network, wait, token = entry
    try:
        request_id_var.reset(token)
    except ValueError:  # set in another context (thread pools): just clear it
        request_id_var.set("-")
    metric_task_finished(
        task=_task_name(task),
        network=network,
        state=str(state or "UNKNOWN"),
        seconds=time.monotonic() - started,
        queue_wait=wait,
    )


def _keep_django_logging(**_: Any) -> None:
    """Having a receiver is what stops Celery from configuring logging itself; Django's LOGGING
    (applied by django.setup(), which Celery's Django fixup runs first) stays in charge."""

    dictConfig(settings.LOGGING)


def connect() -> None:
    signals.before_task_publish.connect(_stamp_published, weak=False, dispatch_uid="fp_publish")
    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="fp_task_prerun")
    signals.task_postrun.connect(_task_finished, weak=False, dispatch_uid="fp_task_postrun")
    signals.setup_logging.connect(_keep_django_logging, weak=False, dispatch_uid="fp_logging")
    signals.worker_ready.connect(_worker_ready, weak=False, dispatch_uid="fp_worker_metrics")


def _worker_ready(**kwargs: Any) -> None:
    start_worker_metrics_server(**kwargs)
