"""Delivery from the CRM with the stages the owner chose for the lead's pipeline in the panel:
they replace the network's default (142) for that pipeline only."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.stages import crm_pipelines_refresh, crm_stage_map_set
from franchise_platform.flows.refresh import lead_refresh

from .test_delivery import _deal, generated  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def test_the_pipelines_chosen_stage_delivers_and_142_no_longer_does(
    generated,  # noqa: F811
    amo,
):
    net, account_id, _ = generated
    main = amo.main_pipeline_id(account_id)
    chosen = amo.stage_id(account_id, main, "Принимают решение")
    with tenant_context(net.network):
        from franchise_platform.crm_sync.models import CrmConnection

        crm = CrmConnection.objects.get(account_id=account_id)
        crm_pipelines_refresh(connection=crm)
        crm_stage_map_set(connection=crm, pipeline_id=str(main), stages={}, delivered=[str(chosen)])

    amo.move_lead_by_hand(account_id, 7001, 142)
    with tenant_context(net.network):
        lead_refresh(lead_id=7001)
    assert _deal(net).delivered_at is None

    amo.move_lead_by_hand(account_id, 7001, chosen)
    with tenant_context(net.network):
        lead_refresh(lead_id=7001)
    assert _deal(net).delivered_source == "crm_stage"
