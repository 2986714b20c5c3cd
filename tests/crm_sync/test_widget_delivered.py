"""POST /api/widget/v1/leads/{id}/delivered: «Услуга оказана» from the lead card. The deal is
delivered once and the links answer says so; a lead without links is 404; a bad token 401."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.payments.models import Deal
from tests.personas import platform_client

from .test_widget_api import AUD, call, lead  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def _deliver(amo, account_id, lead_id=7001, token=None):
    return platform_client().post(
        f"/api/widget/v1/leads/{lead_id}/delivered",
        "{}",
        content_type="application/json",
        HTTP_X_AUTH_TOKEN=token or amo.make_widget_token(account_id, aud=AUD),
    )


def test_manager_marks_the_service_delivered_once(lead, amo):  # noqa: F811
    net, account_id, _, _ = lead
    assert call(amo, account_id).status_code == 200  # links generated

    first = _deliver(amo, account_id)
    assert first.status_code == 200, first.content
    delivered_at = first.json()["deal"]["delivered_at"]
    assert delivered_at is not None and first.json()["deal"]["receipts"] == []
    second = _deliver(amo, account_id)
    assert second.json()["deal"]["delivered_at"] == delivered_at
    with tenant_context(net.network):
        assert Deal.objects.get(crm_deal_id=7001).delivered_source == "widget"
    shown = call(amo, account_id, method="get").json()["deal"]
    assert shown["delivered_at"] == delivered_at


def test_lead_without_links_and_bad_token(lead, amo):  # noqa: F811
    _, account_id, _, _ = lead
    missing = _deliver(amo, account_id, lead_id=7999)
    assert missing.status_code == 404 and missing.json()["code"] == "links_not_generated"
    forged = _deliver(amo, account_id, token=amo.make_widget_token(account_id, aud=AUD, secret="x"))
    assert forged.status_code == 401
