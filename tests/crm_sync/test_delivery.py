"""Delivery from the CRM: the lead reaching a stage the owner counts as delivered (amoCRM's
«Успешно реализовано», 142, by default) delivers the deal; the lead's mapped date field gives the
deal its service date. Both are read back from the API on the webhook's refresh."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import CrmConnection
from franchise_platform.flows.refresh import lead_refresh
from franchise_platform.network.models import NetworkSettings
from franchise_platform.payments.models import Deal
from tests.factories import shop

from .test_widget_api import call

pytestmark = pytest.mark.django_db


@pytest.fixture
def generated(connected, amo):
    net, account_id, crm = connected
    with tenant_context(net.network):
        location = shop().partner.locations.get()
        from franchise_platform.crm_sync.connectors import connector_for
        from franchise_platform.crm_sync.sender import fields_ensure

        fields = fields_ensure(crm, connector_for(crm))
    enum_id = fields.location_options[str(location.pk)]
    amo.set_lead(account_id, 7001, 5000, location_enum_id=enum_id)
    assert call(amo, account_id).status_code == 200
    return net, account_id, enum_id


def _deal(net) -> Deal:
    with tenant_context(net.network):
        return Deal.objects.get(crm_deal_id=7001)


def test_lead_in_successful_stage_delivers_the_deal(generated, amo):
    net, account_id, _ = generated
    with tenant_context(net.network):
        lead_refresh(lead_id=7001)
    assert _deal(net).delivered_at is None  # an ordinary open stage

    amo.move_lead_by_hand(account_id, 7001, 142)
    with tenant_context(net.network):
        lead_refresh(lead_id=7001)
        lead_refresh(lead_id=7001)  # a repeated webhook changes nothing
    deal = _deal(net)
    assert deal.delivered_at is not None and deal.delivered_source == "crm_stage"


def test_owner_chosen_stage_replaces_the_default(generated, amo):
    net, account_id, _ = generated
    pipeline = amo.main_pipeline_id(account_id)
    chosen = amo.accounts[account_id].pipelines[pipeline]["statuses"][2]["id"]
    with tenant_context(net.network):
        NetworkSettings.objects.update_or_create(pk=1, defaults={"delivered_status_ids": [chosen]})
    amo.move_lead_by_hand(account_id, 7001, 142)
    with tenant_context(net.network):
        lead_refresh(lead_id=7001)
    assert _deal(net).delivered_at is None
    amo.move_lead_by_hand(account_id, 7001, chosen)
    with tenant_context(net.network):
        lead_refresh(lead_id=7001)
    assert _deal(net).delivered_at is not None


def test_service_date_comes_from_the_mapped_date_field(generated, amo):
    net, account_id, enum_id = generated
    field = amo.add_field(account_id, "Дата игры", "date_time")
    with tenant_context(net.network):
        crm = CrmConnection.objects.get(account_id=account_id)
        crm.field_map = {**crm.field_map, "service_date_field_id": field["id"]}
        crm.save(update_fields=["field_map"])
    start = int(datetime(2026, 12, 12, 16, 0, tzinfo=UTC).timestamp())
    amo.set_lead(account_id, 7001, 5000, location_enum_id=enum_id)
    amo.accounts[account_id].leads[7001]["cf"][field["id"]] = [{"value": start}]
    with tenant_context(net.network):
        lead_refresh(lead_id=7001)
    assert _deal(net).service_date == datetime(2026, 12, 12, 16, 0, tzinfo=UTC)

    amo.accounts[account_id].leads[7001]["cf"][field["id"]] = [{"value": "not a date"}]
    with tenant_context(net.network):
        lead_refresh(lead_id=7001)
    assert _deal(net).service_date is None
