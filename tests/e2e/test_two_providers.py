"""Two providers side by side in one network (issue 16, item 5), on the live stack: gunicorn, a
real Celery worker, the fakes of Robokassa, YooKassa and amoCRM. Two partners, one per provider,
three locations; for each: the button, the prepayment and the rest paid on the provider's page,
the lead updated, a refund through the API polled to the end by the worker."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from franchise_platform.payments.models import Deal, Invoice, Refund
from tests.factories import IP_INN, OOO_INN
from tests.live import wait_for

from .test_failures import _lead
from .test_refunds import PASSWORD3, _refund_notes

pytestmark = pytest.mark.worker

YOOKASSA_SECRET = "live_YooKassa-secret-2f9c"


def _add_yookassa_partner(net, yookassa, shop_id: str) -> dict:
    with net.api() as api:
        response = api.post(
            "/api/v1/partners",
            json={
                "name": "ООО «Квесты Казани»",
                "legal_form": "ooo",
                "inn": OOO_INN,
                "tax_system": "usn_income",
                "vat": "none",
                "provider_account": {
                    "provider": "yookassa",
                    "values": {"shop_id": shop_id, "secret_key": YOOKASSA_SECRET},
                },
            },
        )
    assert response.status_code == 201, response.text
    partner = response.json()
    (address,) = partner["provider_account"]["addresses"]
    # The owner pastes the notification address into the shop's cabinet (§6.4).
    yookassa.register_shop(shop_id, YOOKASSA_SECRET, test=False, cabinet_url=address["url"])
    net.partners.append(partner)
    return partner


def _pay_yookassa(net, yookassa, link_url: str) -> int:
    """The buyer follows our link to YooKassa's page and pays; YooKassa notifies the cabinet
    address. Returns our invoice number."""
    with net.server.client() as client:
        redirect = client.get(link_url)
    assert redirect.status_code == 302, redirect.text
    target = redirect.headers["Location"]
    assert target.startswith(yookassa.base_url + "/_fake/checkout/"), target
    payment_id = urlsplit(target).path.rsplit("/", 1)[-1]
    before = len(yookassa.deliveries)
    payment = yookassa.pay(payment_id)
    assert payment["status"] == "succeeded"
    delivered = yookassa.deliveries[before:]
    assert [d.status for d in delivered] == [200], delivered
    return int(payment["metadata"]["invoice_id"])


def _refund(net, invoice_id: int, amount: str) -> dict:
    with net.api() as api:
        response = api.post(f"/api/v1/payments/{invoice_id}/refund", json={"amount": amount})
    assert response.status_code == 202, response.text
    return response.json()


def _paid(net, lead_id, amount):
    with tenant_context(net.network()):
        wait_for(
            lambda: Deal.objects.get(crm_deal_id=lead_id).paid == Decimal(amount),
            timeout=60,
            what=f"deal {lead_id} paid {amount}",
        )
    connection.set_schema_to_public()


def _lead_paid_in_crm(net, lead_id, amount, status):
    wait_for(
        lambda: (
            net.amo.lead_values(net.account_id, lead_id).get("Статус оплаты") == status
            and Decimal(str(net.amo.lead_values(net.account_id, lead_id).get("Оплачено", 0)))
            == Decimal(amount)
        ),
        timeout=60,
        what=f"lead {lead_id}: {status}, {amount}",
    )


def _refund_finished(net, lead_id):
    with tenant_context(net.network()):
        wait_for(
            lambda: Refund.objects.get(deal__crm_deal_id=lead_id).status == "finished",
            timeout=90,
            what=f"the refund of lead {lead_id} polled until finished by the worker",
        )
        deal = Deal.objects.get(crm_deal_id=lead_id)
    connection.set_schema_to_public()
    return deal


def test_a_robokassa_and_a_yookassa_partner_side_by_side(live_network, yookassa_server):
    net = live_network
    yookassa = yookassa_server
    robo = net.add_partner(
        name="ИП Иванов Иван Иванович",
        legal_form="ip",
        inn=IP_INN,
        tax_system="usn_income",
        vat="none",
        login=f"{net.slug}-ip",
        algorithm="md5",
    )
    with net.api() as api:
        enabled = api.patch(
            f"/api/v1/partners/{robo['id']}", json={"robokassa": {"password3": PASSWORD3}}
        )
    assert enabled.status_code == 200, enabled.text
    net.robokassa.shops[robo["robokassa"]["merchant_login"]].password3 = PASSWORD3
    yk = _add_yookassa_partner(net, yookassa, shop_id=str(500000 + len(yookassa.shops)))
    baumana = net.add_location("Квест «Тайная комната», ул. Баумана 1", robo)
    net.add_location("Квест «Подземелье», ул. Пушкина 5", robo)
    kremlin = net.add_location("Квест «Кремль», ул. Кремлёвская 2", yk)
    net.connect_amocrm()

    # Robokassa: the button, the prepayment, the rest, a refund.
    robo_lead = 7601
    links = _lead(net, baumana, robo_lead)
    inv_id, _, delivery = net.pay(links["prepayment"]["url"])
    assert delivery.body == f"OK{inv_id}"
    _paid(net, robo_lead, "1500.00")
    rest_id, rest_sum, _ = net.pay(links["full"]["url"])
    assert rest_sum == Decimal("3500.00")
    _paid(net, robo_lead, "5000.00")
    _lead_paid_in_crm(net, robo_lead, "5000", "Оплачено")
    _refund(net, rest_id, "500.00")
    deal = _refund_finished(net, robo_lead)
    assert (deal.paid, deal.refunded) == (Decimal("4500.00"), Decimal("500.00"))

    # YooKassa: the same, through its API-created payments and its notifications.
    yk_lead = 7602
    links = _lead(net, kremlin, yk_lead)
    first = _pay_yookassa(net, yookassa, links["prepayment"]["url"])
    _paid(net, yk_lead, "1500.00")
    rest = _pay_yookassa(net, yookassa, links["full"]["url"])
    _paid(net, yk_lead, "5000.00")
    _lead_paid_in_crm(net, yk_lead, "5000", "Оплачено")
    with tenant_context(net.network()):
        invoices = {i.pk: i for i in Invoice.objects.filter(pk__in=[first, rest])}
        assert invoices[rest].amount == Decimal("3500.00")
        assert all(i.provider == "yookassa" and i.provider_reference for i in invoices.values())
        references = {i.provider_reference for i in invoices.values()}
    connection.set_schema_to_public()
    assert references <= set(yookassa.payments)
    _refund(net, rest, "500.00")
    deal = _refund_finished(net, yk_lead)
    assert (deal.paid, deal.refunded) == (Decimal("4500.00"), Decimal("500.00"))
    (refund,) = [r for r in yookassa.refunds.values() if r["payment_id"] in references]
    assert refund["amount"]["value"] == "500.00" and refund["status"] == "succeeded"
    _lead_paid_in_crm(net, yk_lead, "4500", "Частичный возврат")
    wait_for(lambda: _refund_notes(net, yk_lead), timeout=90, what="the refund note")
    assert len(_refund_notes(net, yk_lead)) == 1
