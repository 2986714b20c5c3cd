"""Refreshing a deal from its lead (flow 5): webhooks only say "lead N changed"; the lead is read
back from the CRM and the deal's links recomputed (new amounts, or another partner's shop)."""

from __future__ import annotations

import logging

from crm_connectors.errors import CrmNotFound
from franchise_platform.crm_sync.models import ConnectionStatus, CrmConnection
from franchise_platform.crm_sync.refresh import lead_facts_read
from franchise_platform.payments.delivery import DeliverySource, deal_deliver
from franchise_platform.payments.errors import LinkRefused
from franchise_platform.payments.selectors import deal_by_crm_id

from .button import deal_links_ensure

logger = logging.getLogger(__name__)


def lead_refresh(*, lead_id: int) -> None:
    """Recompute a tracked deal from its lead; leads without links are not our business yet."""
    if deal_by_crm_id(crm_deal_id=lead_id) is None:
        return
    crm = CrmConnection.objects.filter(status=ConnectionStatus.CONNECTED).first()
    if crm is None:
        return
    try:
        facts = lead_facts_read(crm=crm, lead_id=lead_id, background=True)
    except CrmNotFound:
        logger.info("lead %s is gone; deal kept as it was", lead_id)
        return
    try:
        deal_links_ensure(facts=facts)
    except LinkRefused as exc:
        # The lead lost its location or price: links stay as they were until a manager fixes it.
        logger.info("lead %s not refreshed: %s", lead_id, exc.code)
    if facts.delivered:
        deal = deal_by_crm_id(crm_deal_id=lead_id)
        if deal is not None and deal.delivered_at is None:
            deal_deliver(deal_id=deal.pk, source=DeliverySource.CRM_STAGE, actor="amocrm")
