"""Refreshing a deal from its lead (flow 5): webhooks only say "lead N changed"; the lead is read
back from the CRM and the deal's links recomputed (new amounts, or another partner's shop)."""

from __future__ import annotations

import logging

from crm_connectors.errors import CrmNotFound
from franchise_platform.payments.delivery import DeliverySource, deal_deliver
from franchise_platform.payments.errors import LinkRefused
from franchise_platform.payments.links import LeadFacts, deal_links_ensure
from franchise_platform.payments.selectors import deal_by_crm_id

from .connectors import connector_for, field_map_of
from .models import ConnectionStatus, CrmConnection
from .stages import lead_in_delivered_stage, lead_location_choose

logger = logging.getLogger(__name__)


def lead_facts_read(*, crm: CrmConnection, lead_id: int, background: bool = False) -> LeadFacts:
    """Read a lead through the connector. Raises CrmError (CrmNotFound for a missing lead)."""
    connector = connector_for(crm, background=background)
    fields = field_map_of(crm)
    if fields is None:
        from .sender import fields_ensure

        fields = fields_ensure(crm, connector)
    snapshot = connector.read_lead(lead_id, fields)
    return LeadFacts(
        crm=crm.crm,
        crm_deal_id=lead_id,
        service_date=snapshot.service_date,
        delivered=lead_in_delivered_stage(
            connection=crm, pipeline_id=snapshot.pipeline_id, stage_id=snapshot.stage_id
        ),
        title=snapshot.title,
        total=snapshot.price,
        location_id=lead_location_choose(
            connection=crm, field_location=snapshot.location_key, pipeline_id=snapshot.pipeline_id
        ),
    )


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
