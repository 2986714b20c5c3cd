"""/api/v1/settings carries delivered_status_ids (additive): the CRM stages in which a lead counts
as delivered, 142 by default; a PUT without it keeps them; bad ids are a 422 and change nothing."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.network.models import NetworkSettings
from tests.network.conftest import put_json

pytestmark = pytest.mark.django_db

SETTINGS = "/api/v1/settings"
BODY = {"prepayment": {"mode": "percent", "value": "30"}, "invoice_ttl_hours": 24, "item_name": "К"}


def test_owner_chooses_the_delivered_stages_and_a_put_without_them_keeps_them(owner_a, net_a):
    chosen = put_json(owner_a.api(), SETTINGS, {**BODY, "delivered_status_ids": [142, 7, 7]})
    assert chosen.status_code == 200, chosen.content
    assert chosen.json()["delivered_status_ids"] == [7, 142]
    kept = put_json(owner_a.api(), SETTINGS, BODY)
    assert kept.json()["delivered_status_ids"] == [7, 142]
    none = put_json(owner_a.api(), SETTINGS, {**BODY, "delivered_status_ids": []})
    assert none.json()["delivered_status_ids"] == []


@pytest.mark.parametrize("ids", [[0], [-142], [2**63], list(range(1, 52)), ["abc"]])
def test_bad_stage_ids_are_refused(owner_a, net_a, ids):
    response = put_json(owner_a.api(), SETTINGS, {**BODY, "delivered_status_ids": ids})
    assert response.status_code == 422
    assert response.json()["code"] in {"invalid_status_ids", "validation_error"}
    with tenant_context(net_a.network):
        row = NetworkSettings.objects.filter(pk=1).first()
        assert row is None or row.delivered_status_ids == [142]
