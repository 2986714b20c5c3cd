"""The button «Сформировать ссылки» (and a lead's refresh): the deal's two links, then the
lead's fields and a note queued in the same transaction."""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from franchise_platform.crm_sync.outbox import (
    outbox_deal_state_enqueue,
    outbox_note_enqueue,
    outbox_target,
)
from franchise_platform.payments.links import (
    LeadFacts,
    LinksEnsured,
    deal_links_upsert,
    links_request_check,
)
from franchise_platform.payments.models import Deal


def deal_links_ensure(*, facts: LeadFacts, prepayment_amount: Decimal | None = None) -> Deal:
    """Upsert the deal from the lead, keep exactly one active link per kind, and queue the CRM
    write (link URLs and a note) when anything changed. Idempotent.

    Raises LinkRefused (422) as ``links_request_check`` says.
    """
    request = links_request_check(facts=facts, prepayment_amount=prepayment_amount)
    for attempt in range(2):
        try:
            with transaction.atomic():
                ensured = deal_links_upsert(request=request)
                _crm_changes_queue(ensured)
                return ensured.deal
        except IntegrityError:
            # Two presses raced to create the same deal or link; the second pass finds them.
            if attempt:
                raise
    raise AssertionError("unreachable")


def _crm_changes_queue(ensured: LinksEnsured) -> None:
    if not ensured.changed:
        return
    deal = ensured.deal
    target = outbox_target(deal)
    outbox_deal_state_enqueue(deal=deal, target=target)
    if ensured.note is not None:
        outbox_note_enqueue(
            deal=deal,
            key=f"links:{deal.pk}:{deal.partner_id}:{timezone.now():%Y%m%d%H%M%S%f}",
            text=ensured.note,
            target=target,
        )
