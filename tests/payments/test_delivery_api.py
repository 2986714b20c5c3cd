"""POST /api/v1/deals/{id}/delivered (CONTRACT): owners and admins deliver a deal, once; the deal's
answer (API and widget) carries service_date, delivered_at and its receipts."""

from __future__ import annotations

import pytest

from franchise_platform.payments.models import Deal, SettlementReceipt
from tests.factories import shop

from .helpers import deal_with_links
from .test_fiscal_table import _pay

pytestmark = pytest.mark.django_db

JSON = "application/json"


@pytest.fixture
def prepaid(in_network):
    account = shop(fiscalization=True)
    deal = deal_with_links(account.partner.locations.get(), lead=7501)
    _pay(in_network.anonymous(), account, deal, "prepayment")
    return deal


def test_delivered_queues_the_settlement_and_is_idempotent(in_network, prepaid):
    api = in_network.owner.api()
    first = api.post(f"/api/v1/deals/{prepaid.crm_deal_id}/delivered", content_type=JSON)
    assert first.status_code == 200, first.content
    deal = first.json()["deal"]
    assert deal["delivered_at"] is not None and deal["service_date"] is None
    assert [(r["kind"], r["status"], r["amount"]) for r in deal["receipts"]] == [
        ("payment", "sent", "1500.00"),
        ("settlement", "queued", "1500.00"),
    ]
    again = api.post(
        f"/api/v1/deals/{prepaid.crm_deal_id}/delivered",
        {"delivered_at": "2020-01-01T10:00:00+03:00"},
        content_type="application/json",
    )
    assert again.status_code == 200
    assert again.json()["deal"]["delivered_at"] == deal["delivered_at"]
    assert SettlementReceipt.objects.count() == 1
    shown = api.get(f"/api/v1/deals/{prepaid.crm_deal_id}").json()["deal"]
    assert shown["receipts"] == deal["receipts"]


def test_delivered_at_given_and_refusals(in_network, prepaid):
    api = in_network.owner.api()
    future = api.post(
        f"/api/v1/deals/{prepaid.crm_deal_id}/delivered",
        {"delivered_at": "2999-01-01T10:00:00+03:00"},
        content_type="application/json",
    )
    assert future.status_code == 422 and future.json()["code"] == "invalid_delivered_at"
    viewer = in_network.viewer.api().post(
        f"/api/v1/deals/{prepaid.crm_deal_id}/delivered", content_type=JSON
    )
    assert viewer.status_code == 403
    missing = api.post("/api/v1/deals/999999/delivered", content_type=JSON)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert Deal.objects.get(pk=prepaid.pk).delivered_at is None
    ok = api.post(
        f"/api/v1/deals/{prepaid.crm_deal_id}/delivered",
        {"delivered_at": "2026-01-05T19:00:00+03:00"},
        content_type="application/json",
    )
    assert ok.json()["deal"]["delivered_at"] == "2026-01-05T16:00:00+00:00"
