"""Refunds end to end (issue 15, items 3 and 4) on the live stack: gunicorn, a real Celery worker,
the fakes of Robokassa and amoCRM. A partial refund asked for in the panel goes to the fake's
Refund API (Password #3), is polled by the worker until finished and reaches the deal and the lead
once, with its refund receipt; a refund made in the fake's cabinet is noticed by the worker's
OpStateExt polling and recorded once."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from franchise_platform.payments.models import Deal, Payment, Refund
from franchise_platform.tasks import reconcile_all_networks
from tests.live import wait_for

from .test_failures import _lead
from .test_lifecycle import _setup

pytestmark = pytest.mark.worker

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
FORM_KEY = re.compile(r'name="key" value="([^"]+)"')
PASSWORD3 = "live-Pa55word3"


class Panel:
    """The owner signed in to the network's panel on the live server (cookies carried by hand:
    the loopback transport rewrites hosts, so a cookie jar would file them under 127.0.0.1)."""

    def __init__(self, net) -> None:
        self.net = net
        self.client = net.server.client()
        self.cookies: dict[str, str] = {}
        self._keep(self.client.get(f"http://{net.host}{net._owner_login_path()}"))

    def _keep(self, response):
        self.cookies.update(dict(response.cookies.items()))
        return response

    def _headers(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def get(self, path: str):
        return self._keep(self.client.get(f"http://{self.net.host}{path}", headers=self._headers()))

    def post(self, path: str, data: dict[str, str]):
        return self._keep(
            self.client.post(f"http://{self.net.host}{path}", data=data, headers=self._headers())
        )


def _enable_refunds(net, partner, *, fiscalization: bool):
    with net.api() as api:
        response = api.patch(
            f"/api/v1/partners/{partner['id']}",
            json={"robokassa": {"password3": PASSWORD3, "fiscalization": fiscalization}},
        )
    assert response.status_code == 200, response.text
    assert response.json()["robokassa"]["refunds_enabled"] is True
    net.robokassa.shops[partner["robokassa"]["merchant_login"]].password3 = PASSWORD3


def _refund_notes(net, lead_id):
    return [
        n["params"]["text"]
        for n in net.amo.notes(net.account_id, lead_id)
        if "Возврат" in n["params"]["text"]
    ]


def test_a_partial_refund_from_the_panel_reaches_the_deal_and_the_lead_once(live_network):
    net = live_network
    ip, _, baumana, _ = _setup(net)
    _enable_refunds(net, ip, fiscalization=True)
    net.robokassa.refund_processing_polls = 1  # "processing" once, then "finished"
    lead_id = 7501
    links = _lead(net, baumana, lead_id)
    inv_id, _, delivery = net.pay(links["prepayment"]["url"])
    assert delivery.body == f"OK{inv_id}"
    with tenant_context(net.network()):
        wait_for(lambda: Deal.objects.get(crm_deal_id=lead_id).paid == Decimal("1500.00"))
        deal = Deal.objects.get(crm_deal_id=lead_id)
        payment = Payment.objects.get(invoice_id=inv_id)
    connection.set_schema_to_public()

    panel = Panel(net)
    page = panel.get(f"/panel/deals/{deal.pk}/")
    assert page.status_code == 200, page.text
    form = {
        "csrfmiddlewaretoken": CSRF.search(page.text).group(1),
        "key": FORM_KEY.search(page.text).group(1),
        "amount": "500",
        "confirm": "ВОЗВРАТ",
    }
    answer = panel.post(f"/panel/deals/{deal.pk}/payments/{payment.pk}/refund/", form)
    assert answer.status_code == 302, answer.text
    again = panel.post(f"/panel/deals/{deal.pk}/payments/{payment.pk}/refund/", form)
    assert again.status_code == 302  # a double submit: the same refund

    # The worker polls Refund/GetState until finished and takes the refund into the deal.
    with tenant_context(net.network()):
        wait_for(
            lambda: Refund.objects.get(deal__crm_deal_id=lead_id).status == "finished",
            timeout=90,
            what="the refund polled until finished by the worker",
        )
        refund = Refund.objects.get(deal__crm_deal_id=lead_id)
        assert refund.amount == Decimal("500.00") and refund.receipt == "issued"
        deal = Deal.objects.get(crm_deal_id=lead_id)
        assert (deal.status, deal.paid, deal.refunded) == (
            "partially_refunded",
            Decimal("1000.00"),
            Decimal("500.00"),
        )
    # The refund receipt's position went to Robokassa with the refund.
    sent = [r for r in net.robokassa.refunds.values() if r.inv_id == inv_id]
    assert len(sent) == 1 and sent[0].amount == Decimal("500")
    assert sum(Decimal(i["Cost"]) * Decimal(i["Quantity"]) for i in sent[0].items) == 500

    # The lead: paid sum and status rewritten, one note.
    wait_for(
        lambda: (
            net.amo.lead_values(net.account_id, lead_id).get("Статус оплаты") == "Частичный возврат"
        ),
        timeout=60,
        what="the lead's payment status",
    )
    lead = net.amo.lead_values(net.account_id, lead_id)
    assert Decimal(str(lead["Оплачено"])) == Decimal("1000")
    wait_for(lambda: _refund_notes(net, lead_id), timeout=90, what="the refund note")
    assert len(_refund_notes(net, lead_id)) == 1


def test_a_refund_made_in_the_cabinet_is_noticed_by_polling_and_recorded_once(live_network):
    net = live_network
    ip, _, baumana, _ = _setup(net)
    login = ip["robokassa"]["merchant_login"]
    lead_id = 7502
    links = _lead(net, baumana, lead_id)
    inv_id, _, _ = net.pay(links["full"]["url"])
    with tenant_context(net.network()):
        wait_for(lambda: Deal.objects.get(crm_deal_id=lead_id).status == "paid")
    connection.set_schema_to_public()

    # The partner returns the money in Robokassa's cabinet: nothing is sent to the platform.
    net.robokassa.cabinet_refund(login, inv_id)
    # What beat runs, twice at once (as a slow run overlapping the next would): OpStateExt now
    # says State 60, and both runs may see it.
    reconcile_all_networks.delay()
    reconcile_all_networks.delay()

    with tenant_context(net.network()):
        wait_for(
            lambda: Deal.objects.get(crm_deal_id=lead_id).status == "refunded",
            timeout=60,
            what="the cabinet refund noticed by the worker",
        )
        refunds = list(Refund.objects.filter(deal__crm_deal_id=lead_id))
        assert len(refunds) == 1
        assert (refunds[0].source, refunds[0].status, refunds[0].amount, refunds[0].receipt) == (
            "provider",
            "finished",
            Decimal("5000.00"),
            "manual",
        )
        deal = Deal.objects.get(crm_deal_id=lead_id)
        assert (deal.paid, deal.refunded) == (Decimal("0.00"), Decimal("5000.00"))
        assert not deal.links.filter(status="active").exists()
    asked = [
        r
        for r in net.robokassa.requests
        if "OpStateExt" in r.path and ("InvoiceID", str(inv_id)) in r.params
    ]
    assert asked, "the paid invoice was asked about"
    wait_for(
        lambda: [n for n in _refund_notes(net, lead_id) if "не платформой" in n],
        timeout=60,
        what="the note about a refund made elsewhere",
    )
    assert len(_refund_notes(net, lead_id)) == 1
    wait_for(
        lambda: net.amo.lead_values(net.account_id, lead_id).get("Статус оплаты") == "Возврат",
        timeout=60,
        what="the lead's payment status",
    )
