"""Issue 13, the failure scenarios of items 1, 2 and 4 on the live stack (gunicorn, a real Celery
worker, the fakes of Robokassa and amoCRM): a shop with a history of its own, a shop in test
mode, and a payment that still arrives for a superseded invoice."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from franchise_platform.network.models import DEFAULT_INVOICE_NUMBER_START
from franchise_platform.payments.invoice_numbers import JUMP
from franchise_platform.payments.models import CallbackEvent, Deal, Invoice, Payment
from franchise_platform.tasks import reconcile_all_networks
from tests.live import wait_for

from .test_failures import _lead
from .test_lifecycle import _setup

pytestmark = pytest.mark.worker


def _open_payment_page(net, link_url):
    """The buyer follows our link and the payment page opens (the fake records the request);
    returns the request's fields as Robokassa received them."""
    with net.server.client() as client:
        redirect = client.get(link_url)
    assert redirect.status_code == 302, redirect.text
    target = redirect.headers["Location"]
    page = httpx.get(target, timeout=10)
    assert "X-Robokassa-Error" not in page.headers, page.headers.get("X-Robokassa-Error")
    return {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}


def _notes(net, lead_id, needle):
    return [
        n["params"]["text"]
        for n in net.amo.notes(net.account_id, lead_id)
        if needle in n["params"]["text"]
    ]


def _patch_shop(net, partner, shop):
    with net.api() as api:
        response = api.patch(f"/api/v1/partners/{partner['id']}", json={"robokassa": shop})
    assert response.status_code == 200, response.text


def test_a_shop_with_its_own_history_never_has_an_old_operation_counted(live_network):
    net = live_network
    ip, _, baumana, _ = _setup(net)
    login = f"{net.slug}-ip"
    # The franchisee sold through this shop on its own site before joining: paid operations
    # with small numbers, and one exactly where the platform's numbers would start.
    for number in (1, 2, 3):
        net.robokassa.add_history(login, number, "700.00")
    net.robokassa.add_history(login, DEFAULT_INVOICE_NUMBER_START, "990.00")
    links = _lead(net, baumana, 7301)

    # The shop's numbers were checked before the first invoice: no error 40 for the buyer.
    inv_id, _, delivery = net.pay(links["prepayment"]["url"])
    assert inv_id == DEFAULT_INVOICE_NUMBER_START + JUMP
    assert delivery.body == f"OK{inv_id}"
    with tenant_context(net.network()):
        wait_for(lambda: Deal.objects.get(crm_deal_id=7301).paid == Decimal("1500.00"))

    # Later the shop's own site uses the number of an invoice we issued: its operation is paid
    # in Robokassa, and its notification, correctly signed, reaches our Result URL.
    full = _open_payment_page(net, links["full"]["url"])
    taken = int(full["InvId"])
    net.robokassa.add_history(login, taken, "3500.00")
    own = net.robokassa.build_result_callback(login, taken, "3500.000000", shp=[])
    with net.server.client() as client:
        refused = client.post(ip["robokassa"]["result_url"], data=own)
    assert refused.status_code == 400

    connection.set_schema_to_public()
    reconcile_all_networks.delay()  # OpStateExt now says State 100 for that number
    with tenant_context(net.network()):
        wait_for(
            lambda: Invoice.objects.get(pk=taken).status == "conflict",
            what="the foreign operation recognised by reconciliation",
        )
        assert not Payment.objects.filter(invoice_id=taken).exists()
        assert Deal.objects.get(crm_deal_id=7301).paid == Decimal("1500.00")
        kept = CallbackEvent.objects.filter(invoice_number=taken)
        assert {(e.accepted, e.reason_code) for e in kept} == {(False, "foreign_operation")}
        assert kept.count() == 2  # the notification and the reconciliation, both kept

    # The buyer comes back: a fresh number, paid without error 40, counted once.
    again, _, delivery = net.pay(links["full"]["url"])
    assert again != taken and delivery.body == f"OK{again}"
    with tenant_context(net.network()):
        wait_for(lambda: Deal.objects.get(crm_deal_id=7301).paid == Decimal("5000.00"))
        assert Payment.objects.count() == 2


def test_a_test_payment_is_never_money_and_going_live_retires_test_invoices(live_network):
    net = live_network
    ip, _, baumana, _ = _setup(net)
    _patch_shop(net, ip, {"test_mode": True})
    links = _lead(net, baumana, 7302)

    inv_id, _, delivery = net.pay(links["prepayment"]["url"])
    assert delivery.form["IsTest"] == "1" and delivery.body == f"OK{inv_id}"
    wait_for(lambda: _notes(net, 7302, "ТЕСТ"), timeout=60, what="the ТЕСТ note")
    with tenant_context(net.network()):
        payment = Payment.objects.get(invoice_id=inv_id)
        assert payment.is_test
        deal = Deal.objects.get(crm_deal_id=7302)
        assert (deal.paid, deal.status) == (Decimal("0.00"), "open")
    lead = net.amo.lead_values(net.account_id, 7302)
    assert lead.get("Статус оплаты") != "Оплачено"
    assert Decimal(str(lead.get("Оплачено") or 0)) == 0

    # A test invoice the buyer opened but did not pay, then the shop goes live.
    stale = _open_payment_page(net, links["full"]["url"])
    assert stale["IsTest"] == "1"
    _patch_shop(net, ip, {"test_mode": False})
    live = _open_payment_page(net, links["full"]["url"])

    assert "IsTest" not in live and live["InvId"] != stale["InvId"]
    with tenant_context(net.network()):
        assert Invoice.objects.get(pk=int(stale["InvId"])).status == "retired"
    paid_live, _, delivery = net.pay(links["full"]["url"])
    assert paid_live == int(live["InvId"]) and "IsTest" not in delivery.form
    with tenant_context(net.network()):
        wait_for(lambda: Deal.objects.get(crm_deal_id=7302).paid == Decimal("5000.00"))


def test_a_payment_for_a_superseded_invoice_is_recorded_with_what_to_refund(live_network):
    net = live_network
    _, _, baumana, _ = _setup(net)
    login = f"{net.slug}-ip"
    links = _lead(net, baumana, 7303)

    # The buyer opens the prepayment page and leaves it open; it is good only for a short while.
    stale = _open_payment_page(net, links["prepayment"]["url"])
    deadline = datetime.fromisoformat(stale["ExpirationDate"])
    assert deadline - timezone.now() <= timedelta(minutes=30)
    # Meanwhile the whole price is paid: the prepayment link closes.
    net.pay(links["full"]["url"])
    with tenant_context(net.network()):
        wait_for(lambda: Deal.objects.get(crm_deal_id=7303).status == "paid")

    # The stale page is paid after all: Robokassa notifies us about the superseded invoice.
    delivery = net.robokassa.pay(login, int(stale["InvId"]))
    assert delivery.body == f"OK{stale['InvId']}"  # real money: never refused
    with tenant_context(net.network()):
        wait_for(lambda: Payment.objects.filter(invoice_id=int(stale["InvId"])).exists())
        payment = Payment.objects.get(invoice_id=int(stale["InvId"]))
        assert payment.superseded and payment.refund_due == Decimal("1500.00")
        deal = Deal.objects.get(crm_deal_id=7303)
        assert (deal.status, deal.overpaid_amount) == ("overpaid", Decimal("1500.00"))
    wait_for(
        lambda: _notes(net, 7303, "Вернуть покупателю: 1500.00 ₽"),
        timeout=60,
        what="the note saying what to refund",
    )
