"""The platform's Prometheus metrics and the one-line helpers the core calls.

Every process (gunicorn workers, Celery children) writes its own values; with
``PROMETHEUS_MULTIPROC_DIR`` set (the entrypoint sets it for web and worker) prometheus-client keeps
them in per-process files that the scrape merges (`views.metrics_registry`). Without it (tests,
``manage.py shell``) the values live in this process.

Labels are bounded: ``network`` is a network's slug (the fleet is the bound), ``reason`` is a
provider's reason code (a short fixed list), ``task`` a Celery task name. Nothing secret or
per-request (ids, amounts, tokens) is ever a label.

A metric helper never raises into the caller: an observability bug must not refuse a payment.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable

from django.db import transaction
from prometheus_client import Counter, Histogram

from franchise_platform.request_context import network_label

logger = logging.getLogger(__name__)

LINKS_ISSUED = Counter(
    "fp_payment_links_issued",
    "Payment links created (a new stable /pay/ link), by network and kind.",
    ["network", "kind"],
)
CALLBACKS = Counter(
    "fp_provider_callbacks",
    "Payment-provider callbacks received, accepted or refused (with the refusal reason).",
    ["network", "provider", "result", "reason"],
)
CALLBACKS_REFUSED_NOT_KEPT = Counter(
    "fp_provider_callbacks_refused_not_kept",
    "Refused provider callbacks answered but not stored: the shop's share of the inbox for the "
    "hour was full (a flood of forged notifications), by network, provider and refusal reason.",
    ["network", "provider", "reason"],
)
INVOICES_PAID = Counter(
    "fp_invoices_paid",
    "Invoices recorded as paid (a new Payment), by how we learnt it (callback, reconciliation).",
    ["network", "source"],
)
CRM_RATE_LIMITED = Counter(
    "fp_crm_rate_limited",
    "Answers 429 (rate limited) from a CRM's API, by network and CRM.",
    ["network", "crm"],
)
# Buckets from 5 ms to 5 min: the outbox sender is rate-limited, the sweepers fan out.
_TASK_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0)
TASK_DURATION = Histogram(
    "fp_task_duration_seconds",
    "Celery task run time, from start to end, by task, network and final state.",
    ["task", "network", "state"],
    buckets=_TASK_BUCKETS,
)
TASK_QUEUE_WAIT = Histogram(
    "fp_task_queue_wait_seconds",
    "Time a Celery task waited between being published and starting (queue latency).",
    ["task", "network"],
    buckets=_TASK_BUCKETS,
)


def _safely(name: str, fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception:
        logger.warning("metric %s not recorded", name, exc_info=True)


def _after_commit(name: str, fn: Callable[[], None]) -> None:
    """Count only what was committed (immediately when no transaction is open)."""
    _safely(name, lambda: transaction.on_commit(lambda: _safely(name, fn), robust=True))


def metric_links_issued(kinds: Iterable[str]) -> None:
    """Count links created (one `kind` each) once their transaction commits."""
    network = network_label()
    created = list(kinds)

    def count() -> None:
        for kind in created:
            LINKS_ISSUED.labels(network, kind).inc()

    if created:
        _after_commit("links_issued", count)


def metric_callback(
    *,
    accepted: bool,
    reason: str | None = None,
    provider: str = "robokassa",
    network: str | None = None,
) -> None:
    """One provider callback: accepted, or refused with the provider's reason code."""
    label = network or network_label()
    result = "accepted" if accepted else "refused"
    reason_label = "" if accepted else (reason or "unknown")[:40]
    _safely("callback", lambda: CALLBACKS.labels(label, provider, result, reason_label).inc())


def metric_callback_refused_not_kept(
    *, reason: str | None, provider: str = "robokassa", network: str | None = None
) -> None:
    """A refused callback answered 400 but not stored (payments/inbox.py caps them per shop)."""
    label = network or network_label()
    reason_label = (reason or "unknown")[:40]
    _safely(
        "callback_refused_not_kept",
        lambda: CALLBACKS_REFUSED_NOT_KEPT.labels(label, provider, reason_label).inc(),
    )


def metric_invoice_paid(*, source: str = "callback", network: str | None = None) -> None:
    """An invoice was recorded as paid; counted once its transaction commits."""
    label = network or network_label()
    _after_commit("invoice_paid", lambda: INVOICES_PAID.labels(label, source).inc())


def metric_crm_rate_limited(*, crm: str = "amocrm", network: str | None = None) -> None:
    """The CRM answered 429. For the lead: call from the outbox sender
    (franchise_platform/crm_sync/sender.py) where a CrmRateLimited error is caught."""
    label = network or network_label()
    _safely("crm_rate_limited", lambda: CRM_RATE_LIMITED.labels(label, crm).inc())


def metric_task_finished(
    *, task: str, network: str, state: str, seconds: float, queue_wait: float | None
) -> None:
    # Histograms multiply series by buckets: a large fleet can fold networks into one label
    # (METRICS_TASK_NETWORK_LABEL=0; see deploy/SCALING.md, "Metrics").
    if os.environ.get("METRICS_TASK_NETWORK_LABEL", "1") == "0":
        network = "all"

    def observe() -> None:
        TASK_DURATION.labels(task, network, state).observe(seconds)
        if queue_wait is not None:
            TASK_QUEUE_WAIT.labels(task, network).observe(max(queue_wait, 0.0))

    _safely("task", observe)
