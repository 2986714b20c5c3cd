"""Refunds taken into the deal (a polled refund that finished, one made elsewhere, one recorded
from the provider's cabinet): payments changes the deal, then the lead's paid sum, status, the
«refunded» stage event and one note are queued in the same transaction."""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction

from billing_providers.base import RefundStatus as ProviderRefund
from franchise_platform.crm_sync.models import StageEvent
from franchise_platform.crm_sync.outbox import (
    outbox_deal_state_enqueue,
    outbox_fields_sync_enqueue,
    outbox_note_enqueue,
    outbox_target,
)
from franchise_platform.crm_sync.stages import lead_stage_event_queue
from franchise_platform.payments.models import DealStatus, Payment, Refund, RefundStatus
from franchise_platform.payments.refunds import (
    RefundApplied,
    payment_refund_record,
    payment_refund_state,
    payments_to_watch,
    refund_poll_settle,
    refund_processing_get,
    refund_state_fetch,
    refund_take,
    watch_pause_seconds,
)
from franchise_platform.payments.refunds_manual import (
    cabinet_key,
    refund_cabinet_audit,
    refund_cabinet_check,
    refund_cabinet_take,
)

logger = logging.getLogger(__name__)


def refund_apply(*, refund_id: UUID | str) -> bool:
    """Take a finished refund into the deal, exactly once, and tell the lead (paid sum, status,
    one note). True if applied now."""
    with transaction.atomic(savepoint=False):
        applied = refund_take(refund_id=refund_id)
        refund_crm_changes_queue(applied)
    return applied is not None


def refund_poll(*, refund_id: str) -> str | None:
    """Ask the provider about one processing refund; apply it when finished, release it when
    cancelled, otherwise poll again later (backoff). Returns the new status or None."""
    refund = refund_processing_get(refund_id=refund_id)
    if refund is None:
        return None
    state = refund_state_fetch(refund=refund)
    with transaction.atomic():
        if state is not None and state.status == ProviderRefund.FINISHED:
            refund_apply(refund_id=refund.pk)
            return RefundStatus.FINISHED
        return refund_poll_settle(refund=refund, state=state)


def payment_refund_notice(*, payment: Payment) -> Refund | None:
    """Ask the provider about one paid invoice; a State 60 (money returned) not explained by our
    own refunds becomes a finished refund of what was left, once per operation."""
    state = payment_refund_state(payment=payment)
    if state is None:
        return None
    try:
        with transaction.atomic():
            refund = payment_refund_record(payment=payment, state=state)
            if refund is None:
                return None
            refund_apply(refund_id=refund.pk)
    except IntegrityError:
        return None  # noticed by another run already
    logger.warning(
        "refund made elsewhere noticed: invoice %s, %s", payment.invoice_id, refund.amount
    )
    return refund


def paid_invoices_watch() -> int:
    """One bounded run over the network's recent payments; returns the refunds noticed."""
    pause = watch_pause_seconds()
    noticed = 0
    for index, payment in enumerate(payments_to_watch()):
        if index and pause:
            time.sleep(pause)  # the provider's rate limit: calls spaced out
        noticed += payment_refund_notice(payment=payment) is not None
    return noticed


def refund_cabinet_record(
    *,
    payment_id: UUID | str,
    amount: Decimal | str,
    confirm: str,
    user: Any,
    form_key: str = "",
    ip_address: str | None = None,
) -> Refund:
    """Record that `amount` of a payment was returned in the provider's cabinet. Owners and
    admins only, confirmed by typing the amount or «ВОЗВРАТ», at most what is left to return.
    The same `form_key` (a double submit) answers the refund already recorded. Raises
    RefundRefused (Russian `detail`, `code`); changes nothing then."""
    value = refund_cabinet_check(amount=amount, confirm=confirm, user=user)
    key = cabinet_key(form_key)
    try:
        with transaction.atomic():
            refund, applied = refund_cabinet_take(
                payment_id=payment_id, amount=value, user=user, key=key
            )
            refund_crm_changes_queue(applied)
    except IntegrityError:
        # The same form posted twice at once: the loser answers the winner's refund.
        refund, applied = Refund.objects.get(idempotency_key=key), None
    if applied is not None:
        refund_cabinet_audit(refund=refund, user=user, ip_address=ip_address)
    return refund


def refund_crm_changes_queue(applied: RefundApplied | None) -> None:
    """The CRM changes a refund taken into the deal implies; call in the same transaction."""
    if applied is None:
        return
    deal, refund = applied.deal, applied.refund
    target = outbox_target(deal)
    options = (target.field_map or {}).get("status_options") if target is not None else None
    if options and deal.status not in options:
        # A lead field made before refunds existed lacks this status: add it first.
        outbox_fields_sync_enqueue()
    outbox_deal_state_enqueue(deal=deal, target=target)
    if deal.status == DealStatus.REFUNDED:
        # Only when all the money went back: a partial refund (an overpayment returned, say)
        # leaves the deal where it is in the pipeline.
        lead_stage_event_queue(deal=deal, event=StageEvent.REFUNDED, target=target)
    outbox_note_enqueue(deal=deal, key=f"refund:{refund.pk}", text=applied.note, target=target)
