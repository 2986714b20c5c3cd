"""Re-queue background work whose Celery message was lost; the database is the source of truth.
Run per network by the beat schedule (franchise_platform.tasks)."""

from __future__ import annotations

from franchise_platform.crm_sync.notices import outbox_dead_notify
from franchise_platform.crm_sync.sweeping import outbox_requeue
from franchise_platform.flows.payment import network_invoices_reconcile
from franchise_platform.flows.refund import paid_invoices_watch
from franchise_platform.payments.refunds import refunds_requeue
from franchise_platform.payments.settlement import settlement_receipts_requeue
from franchise_platform.payments.sweeping import callbacks_requeue


def network_sweep() -> dict[str, int]:
    return {
        "callbacks": callbacks_requeue(),
        "refunds": refunds_requeue(),
        "outbox": outbox_requeue(),
        "dead_notified": outbox_dead_notify(),
        "settlement_receipts": settlement_receipts_requeue(),
    }


def network_reconcile() -> int:
    # Unpaid invoices we heard nothing about, then paid ones that may have been refunded
    # elsewhere (OpStateExt State 60): both bounded batches on the same schedule.
    return network_invoices_reconcile() + paid_invoices_watch()
