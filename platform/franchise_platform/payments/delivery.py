"""Delivering a service (flow): the deal learns when its service was rendered, from the lead
reaching a delivered stage, from the panel's or the widget's button, or from the API. Every
advance paid on it is then settled (payments/settlement.py)."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from franchise_platform.security.audit import audit_record

from .models import Deal, SettlementReceipt
from .settlement import settlement_receipts_queue


class DeliverySource:
    CRM_STAGE = "crm_stage"
    PANEL = "panel"
    WIDGET = "widget"
    API = "api"


DELIVERY_SOURCES = frozenset(
    {DeliverySource.CRM_STAGE, DeliverySource.PANEL, DeliverySource.WIDGET, DeliverySource.API}
)


@transaction.atomic
def deal_deliver(
    *,
    deal_id: uuid.UUID | str,
    source: str,
    delivered_at: datetime | None = None,
    actor: str = "",
    ip_address: str | None = None,
) -> tuple[Deal, list[SettlementReceipt]]:
    """Mark the deal's service delivered and queue the settlement receipts it needs.

    Idempotent: a deal delivered already keeps its first moment and source, and only receipts
    still missing (a payment recorded since) are queued. `delivered_at` must be aware and not in
    the future (ValueError). Raises Deal.DoesNotExist. Returns the deal and the new receipts.
    """
    if source not in DELIVERY_SOURCES:
        raise ValueError(f"unknown delivery source {source!r}")
    now = timezone.now()
    if delivered_at is not None and (timezone.is_naive(delivered_at) or delivered_at > now):
        raise ValueError("delivered_at must be aware and not in the future")
    deal = Deal.objects.select_for_update().get(pk=deal_id)
    if deal.delivered_at is None:
        deal.delivered_at = delivered_at or now
        deal.delivered_source = source
        deal.save(update_fields=["delivered_at", "delivered_source", "updated_at"])
        audit_record(
            actor=actor or source,
            action="deal.delivered",
            obj=deal,
            changes={"delivered_at": (None, deal.delivered_at.isoformat())},
            ip_address=ip_address,
        )
    return deal, settlement_receipts_queue(deal=deal)
