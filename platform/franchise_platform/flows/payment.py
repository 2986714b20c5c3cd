"""Applying a payment (flow 3, and reconciliation's flow 5): payments records it, then the lead's
fields, stage events, a note and the contact read are queued in the same transaction."""

from __future__ import annotations

from django.db import transaction

from franchise_platform.crm_sync.outbox import (
    outbox_deal_state_enqueue,
    outbox_note_enqueue,
    outbox_target,
)
from franchise_platform.crm_sync.stages import lead_stage_events_for_payment
from franchise_platform.crm_sync.tasks import payment_contact_fill
from franchise_platform.payments.callbacks import (
    PaymentRecorded,
    callback_event_apply,
    payment_record,
)
from franchise_platform.payments.models import Invoice, PaymentSource
from franchise_platform.payments.reconciliation import (
    invoice_provider_check,
    invoices_to_reconcile,
)


def callback_apply(*, event_id: str) -> None:
    """Apply a stored, accepted notification. Idempotent; safe to run any number of times."""
    with transaction.atomic():
        payment_crm_changes_queue(callback_event_apply(event_id=event_id))


def invoice_reconcile(*, invoice: Invoice) -> bool:
    """Ask the provider about one invoice; record the payment if it was paid. True if recorded
    (a payment, or a shop check)."""
    check = invoice_provider_check(invoice=invoice)
    if check.paid_at is None:
        return check.shop_checked
    with transaction.atomic():
        recorded = payment_record(
            invoice=invoice, source=PaymentSource.RECONCILIATION, paid_at=check.paid_at
        )
        payment_crm_changes_queue(recorded)
    return recorded is not None


def network_invoices_reconcile() -> int:
    recorded = 0
    for invoice in invoices_to_reconcile():
        recorded += invoice_reconcile(invoice=invoice)
    return recorded


def payment_crm_changes_queue(recorded: PaymentRecorded | None) -> None:
    """The CRM changes a recorded payment implies; call in the transaction that recorded it."""
    if recorded is None:
        return
    deal, payment = recorded.deal, recorded.payment
    target = outbox_target(deal)
    key = f"payment:{payment.pk}"
    if recorded.is_test:
        outbox_note_enqueue(deal=deal, key=key, text=recorded.note, target=target)
        return
    if recorded.contact_wanted and target is not None:
        # Kept from the start (fiscal.md §7): the lead's contact, read after the commit.
        payment_id = str(payment.pk)
        transaction.on_commit(lambda: payment_contact_fill.delay(payment_id))
    outbox_deal_state_enqueue(deal=deal, target=target)
    lead_stage_events_for_payment(deal=deal, target=target)
    outbox_note_enqueue(deal=deal, key=key, text=recorded.note, target=target)
