"""A settlement receipt's step (fiscal.md §1.3): the lead's main contact read when the receipt has
nowhere to go, the step itself, and the «settlement failed» stage event when it failed now, all
in one transaction holding the receipt's row."""

from __future__ import annotations

from django.db import transaction

from franchise_platform.crm_sync.contacts import payment_contact_fill
from franchise_platform.crm_sync.models import StageEvent
from franchise_platform.crm_sync.stages import lead_stage_event_queue
from franchise_platform.payments.settlement import (
    settlement_receipt_due,
    settlement_receipt_needs_lead_contact,
    settlement_receipt_step,
)


def settlement_receipt_process(*, receipt_id: int) -> None:
    """Send, or check, one settlement receipt. Idempotent; safe to run any number of times."""
    with transaction.atomic():
        receipt = settlement_receipt_due(receipt_id=receipt_id)
        if receipt is None:
            return
        if settlement_receipt_needs_lead_contact(receipt):
            payment_contact_fill(payment_id=receipt.payment_id)
        if settlement_receipt_step(receipt=receipt):
            lead_stage_event_queue(deal=receipt.deal, event=StageEvent.SETTLEMENT_FAILED)
