"""The buyer back from a provider that signs no return (YooKassa's confirmation page, issue 16,
item 4.2): our return address proves its own invoice, the page says the payment is being
confirmed and polls a small JSON answer that only reads our records, until the verified
notification (or the reconciliation) has recorded the payment. The page never records one."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from franchise_platform.flows.payment import callback_apply
from franchise_platform.payments.models import (
    CallbackEvent,
    Invoice,
    InvoiceStatus,
    LinkKind,
    Payment,
)

from .helpers import active_link, deal_with_links, visit
from .yookassa_helpers import yookassa_options, yookassa_shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(settings):
    from tests.fakes.yookassa import FakeYooKassa

    fake = FakeYooKassa()
    yookassa_options(settings, fake)
    return fake


def _issued(in_network, fake, shop_id="100500"):
    account = yookassa_shop(fake, shop_id=shop_id)
    deal = deal_with_links(account.partner.locations.get(), lead=int(shop_id))
    visit(in_network.anonymous(), active_link(deal, LinkKind.PREPAYMENT))
    invoice = Invoice.objects.get(deal=deal)
    return_url = fake.payment(invoice.provider_reference)["confirmation"]["return_url"]
    split = urlsplit(return_url)
    query = {k: v[0] for k, v in parse_qs(split.query).items()}
    return account, invoice, split.path, query


def _status(client, account, query):
    return client.get(f"/callbacks/yookassa/{account.partner_id}/return-status/", query)


def test_the_return_page_says_confirming_and_polls_until_the_notification_is_applied(
    in_network, fake
):
    account, invoice, path, query = _issued(in_network, fake)
    buyer = in_network.anonymous()

    page = buyer.get(path, query)

    assert page.status_code == 200
    html = page.content.decode()
    assert "Платёж подтверждается" in html and "1500,00 ₽" in html
    assert f"/callbacks/yookassa/{account.partner_id}/return-status/?" in html
    assert "pay/return.js" in html
    assert _status(buyer, account, query).json() == {"state": "confirming", "amount": "1500.00"}

    paid = fake.pay(invoice.provider_reference)
    # Paid at YooKassa, but nothing verified reached us yet: still confirming, however often asked.
    for _ in range(3):
        assert _status(buyer, account, query).json()["state"] == "confirming"
    assert not Payment.objects.exists()

    buyer.post(
        f"/callbacks/yookassa/{account.partner_id}/notification/",
        data=json.dumps(fake.notification("payment.succeeded", paid)),
        content_type="application/json",
        REMOTE_ADDR="127.0.0.1",
    )
    callback_apply(event_id=str(CallbackEvent.objects.get().pk))

    assert _status(buyer, account, query).json() == {"state": "paid", "amount": "1500.00"}
    done = buyer.get(path, query).content.decode()
    assert "Спасибо, оплата получена" in done and "return.js" not in done
    assert Payment.objects.count() == 1


def test_an_invoice_that_can_no_longer_be_paid_offers_the_link_again(in_network, fake):
    account, invoice, path, query = _issued(in_network, fake)
    Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.EXPIRED)

    answer = _status(in_network.anonymous(), account, query).json()

    assert answer == {
        "state": "not_paid",
        "amount": "1500.00",
        "pay_again": f"/pay/{invoice.link.token}",
    }
    html = in_network.anonymous().get(path, query).content.decode()
    assert "Оплата не прошла" in html and f"/pay/{invoice.link.token}" in html


@pytest.mark.parametrize(
    "tamper",
    [
        lambda q, inv: {**q, "check": "0" * 32},
        lambda q, inv: {**q, "check": ""},
        lambda q, inv: {"invoice": q["invoice"]},
        lambda q, inv: {**q, "invoice": str(inv.pk + 1)},
        lambda q, inv: {**q, "invoice": "1" * 40},
        lambda q, inv: {**q, "invoice": "-1"},
        lambda q, inv: {**q, "invoice": "abc"},
        lambda q, inv: {**q, "check": q["check"] + "x" * 10_000},
    ],
)
def test_a_return_not_proven_for_its_invoice_tells_nothing(in_network, fake, tamper):
    account, invoice, path, query = _issued(in_network, fake)
    bad = tamper(query, invoice)

    status = _status(in_network.anonymous(), account, bad)
    page = in_network.anonymous().get(path, bad)

    assert status.status_code == 404
    assert status.json() == {"detail": "Unknown payment return.", "code": "unknown_return"}
    assert page.status_code == 200
    html = page.content.decode()
    assert "1500" not in html and "return-status" not in html


def test_another_partners_return_is_not_answered_under_this_partner(in_network, fake):
    account, _invoice, _path, query = _issued(in_network, fake)
    other, _other_invoice, _p, _q = _issued(in_network, fake, shop_id="100600")

    assert _status(in_network.anonymous(), other, query).status_code == 404
    assert _status(in_network.anonymous(), account, query).status_code == 200


def test_the_status_of_a_robokassa_path_or_unknown_provider_is_404(in_network, fake):
    account, _invoice, _path, query = _issued(in_network, fake)

    robokassa = in_network.anonymous().get(
        f"/callbacks/robokassa/{account.partner_id}/return-status/", query
    )
    unknown = in_network.anonymous().get(
        f"/callbacks/paypal/{account.partner_id}/return-status/", query
    )

    assert robokassa.status_code == 404 and unknown.status_code == 404


def test_the_check_is_bound_to_the_network(in_network, net_b, fake):
    """The same invoice number in another network has another check."""
    from django.db import connection

    from franchise_platform.payments.returns import return_check

    _account, invoice, _path, query = _issued(in_network, fake)
    mine = return_check(invoice.pk)
    assert query["check"] == mine
    schema = connection.schema_name
    connection.schema_name = net_b.network.schema_name
    try:
        assert return_check(invoice.pk) != mine
    finally:
        connection.schema_name = schema
