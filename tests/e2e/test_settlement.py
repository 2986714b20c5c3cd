"""From two advances to their settlement receipts (issue 15): a prepayment and the remainder are
paid before the service, the manager moves the lead to «Успешно реализовано» in amoCRM, the
webhook reaches the real worker, and each operation gets its own second receipt through the fake
Robokassa's Receipt/Attach, offsetting exactly its own amount, registered once (Receipt/Status)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.payments.models import Payment, SettlementReceipt
from tests.live import wait_for

pytestmark = pytest.mark.worker

OOO_INN = "7707083893"
SUCCESS = 142  # amoCRM's «Успешно реализовано», in every pipeline


def _fiscal_partner(net) -> dict:
    """An ООО on ОСН, VAT 22 %, whose shop fiscalizes through Robokassa."""
    login = f"{net.slug}-ooo"
    shop = {
        "merchant_login": login,
        "password1": f"{login}-p1",
        "password2": f"{login}-p2",
        "test_password1": f"{login}-t1",
        "test_password2": f"{login}-t2",
        "hash_algorithm": "md5",
        "fiscalization": True,
    }
    with net.api() as api:
        response = api.post(
            "/api/v1/partners",
            json={
                "name": "ООО «Квесты Казани»",
                "legal_form": "ooo",
                "inn": OOO_INN,
                "tax_system": "osn",
                "vat": "vat22",
                "robokassa": shop,
            },
        )
    assert response.status_code == 201, response.text
    partner = response.json()
    net.robokassa.register_shop(
        login,
        shop["password1"],
        shop["password2"],
        shop["test_password1"],
        shop["test_password2"],
        hash_algorithm="md5",
        result_url=partner["robokassa"]["result_url"],
    )
    return partner


def _lead_reads(net, lead_id: int) -> int:
    path = f"/api/v4/leads/{lead_id}"
    return sum(1 for r in net.amo.api_requests(net.account_id, ("GET",)) if r.path == path)


def _attach_calls(net) -> int:
    return sum(1 for r in list(net.robokassa.requests) if r.path == "/RoboFiscal/Receipt/Attach")


def test_two_advances_settled_on_delivery(live_network):
    net = live_network
    partner = _fiscal_partner(net)
    location = net.add_location("Квест «Кремль», ул. Кремлёвская 2", partner)
    net.connect_amocrm()
    lead_id = 7101
    net.amo.set_lead(net.account_id, lead_id, 5000, location_enum_id=net.location_enum(location))

    links = {link["kind"]: link for link in net.widget("POST", lead_id).json()["links"]}
    first_id, first_sum, _ = net.pay(links["prepayment"]["url"])
    wait_for(
        lambda: net.widget("GET", lead_id).json()["deal"]["paid"] == "1500.00",
        what="prepayment applied",
    )
    second_id, second_sum, _ = net.pay(links["full"]["url"])
    wait_for(
        lambda: net.widget("GET", lead_id).json()["deal"]["status"] == "paid", what="deal paid"
    )
    assert (first_sum, second_sum) == (Decimal("1500.00"), Decimal("3500.00"))
    assert _attach_calls(net) == 0  # nothing is settled before the service

    # The manager drags the lead to «Успешно реализовано»; amoCRM posts the webhook.
    net.amo.move_lead_by_hand(net.account_id, lead_id, SUCCESS)
    (hook,) = net.amo.webhooks(net.account_id)
    response = net.amo.fire_webhook(hook["destination"], net.account_id, lead_id, "status")
    assert response.status_code < 300, response.text

    def registered():
        body = net.widget("GET", lead_id).json()["deal"]
        settlements = [r for r in body["receipts"] if r["kind"] == "settlement"]
        done = len(settlements) == 2 and all(r["status"] == "registered" for r in settlements)
        return done and body

    body = wait_for(registered, timeout=60, what="two settlement receipts registered")
    assert body["delivered_at"] is not None
    sent = net.robokassa.settlement_receipts(partner["robokassa"]["merchant_login"])
    assert sorted((p["originId"], p["total"]) for p in sent) == [
        (str(first_id), Decimal("1500")),
        (str(second_id), Decimal("3500")),
    ]
    for payload in sent:
        assert payload["payments"] == [{"type": 2, "sum": payload["total"]}]
        assert payload["items"][0]["payment_method"] == "full_payment"
        assert payload["items"][0]["tax"] == "vat22"
        assert payload["client"] == {"email": "buyer@example.com"}
    assert sorted(p["vats"][0]["sum"] for p in sent) == [Decimal("270.49"), Decimal("631.15")]

    # Registered once: a repeated webhook, handled to the end, sends nothing more.
    reads = _lead_reads(net, lead_id)
    net.amo.fire_webhook(hook["destination"], net.account_id, lead_id, "status")
    wait_for(lambda: _lead_reads(net, lead_id) > reads, what="the repeated webhook's refresh")
    assert _attach_calls(net) == 2
    with tenant_context(net.network()):
        assert SettlementReceipt.objects.count() == 2
        assert set(SettlementReceipt.objects.values_list("payment__invoice_id", flat=True)) == set(
            Payment.objects.values_list("invoice_id", flat=True)
        )
        assert all(r.fiscal.get("FnNumber") for r in SettlementReceipt.objects.all())
