"""Reading a lead back from the CRM as the facts the payments domain needs (the refresh itself,
flow 5, is franchise_platform.flows.refresh)."""

from __future__ import annotations

from franchise_platform.payments.links import LeadFacts

from .connectors import connector_for, field_map_of
from .models import CrmConnection
from .sender import fields_ensure
from .stages import lead_in_delivered_stage, lead_location_choose


def lead_facts_read(*, crm: CrmConnection, lead_id: int, background: bool = False) -> LeadFacts:
    """Read a lead through the connector. Raises CrmError (CrmNotFound for a missing lead)."""
    connector = connector_for(crm, background=background)
    fields = field_map_of(crm)
    if fields is None:
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
