"""SuccessURL and FailURL, the pages the buyer comes back to from Robokassa.

The addresses are public and InvIds are sequential, so a page says something about an invoice only
for a return Robokassa signed (SuccessURL: Password #1, test #1 with IsTest=1); anything else gets
the same neutral page, whatever InvId it names. FailURL carries no signature from Robokassa at all.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest

from franchise_platform.payments.invoicing import shop_check_invoice_issue
from franchise_platform.payments.models import Invoice, LinkKind
from tests.factories import shop
from tests.fakes.robokassa import fake_hash, format_amount

from .helpers import active_link, deal_with_links, visit

pytestmark = pytest.mark.django_db


def _shp(invoice: Invoice) -> list[tuple[str, str]]:
    """The Shp_ fields of the invoice's payment request, which Robokassa echoes back."""
    query = parse_qsl(urlsplit(invoice.payment_url).query)
    return sorted((k, v) for k, v in query if k.lower().startswith("shp_"))


def success_form(invoice: Invoice, *, password1: str, is_test: bool = False, inv_id=None) -> dict:
    """What Robokassa sends the buyer back with (§3.2): OutSum, InvId, SignatureValue over
    ``OutSum:InvId:Password#1[:Shp_...]``, Culture, the Shp_ fields, IsTest=1 in test mode."""
    out_sum = format_amount(invoice.amount)
    inv = str(inv_id or invoice.pk)
    shp = _shp(invoice)
    base = ":".join([out_sum, inv, password1, *(f"{k}={v}" for k, v in shp)])
    form = {
        "OutSum": out_sum,
        "InvId": inv,
        "SignatureValue": fake_hash("md5", base).upper(),
        "Culture": "ru",
        **dict(shp),
    }
    if is_test:
        form["IsTest"] = "1"
    return form


@pytest.fixture
def issued(in_network):
    """A deal of 5000 whose prepayment invoice (1500) the buyer went to pay."""
    account = shop()
    deal = deal_with_links(account.partner.locations.get())
    link = active_link(deal, LinkKind.PREPAYMENT)
    visit(in_network.anonymous(), link)
    return account, link, Invoice.objects.get()


def _page(client, account, which: str, form: dict, *, method: str = "get") -> str:
    url = f"/callbacks/robokassa/{account.partner_id}/{which}/"
    response = getattr(client, method)(url, form)
    assert response.status_code == 200
    assert "no-cache" in response.get("Cache-Control", "") or "max-age=0" in response.get(
        "Cache-Control", ""
    )
    return response.content.decode()


def _leaks(html: str, account, link, invoice) -> list[str]:
    found = []
    for what, text in {
        "amount": "1500",
        "partner": account.partner.name,
        "pay link": 'href="/pay/',
        "token": link.token,
        "lead title": "Квест",
        "retry": "Попробовать снова",
    }.items():
        if text in html:
            found.append(what)
    return found


@pytest.mark.parametrize("which", ["success", "fail"])
def test_an_unsigned_return_gets_a_neutral_page_the_same_for_every_inv_id(
    in_network, issued, which
):
    account, link, invoice = issued
    client = in_network.anonymous()
    unsigned = {"OutSum": "1500.000000", "InvId": str(invoice.pk), "Culture": "ru"}
    forged = {**unsigned, "SignatureValue": "AB" * 16}

    pages = {
        "unsigned": _page(client, account, which, unsigned),
        "forged": _page(client, account, which, forged),
        "posted": _page(client, account, which, unsigned, method="post"),
        "missing invoice": _page(client, account, which, {**unsigned, "InvId": "999999"}),
        "no InvId": _page(client, account, which, {}),
        "huge InvId": _page(client, account, which, {**forged, "InvId": "9" * 19}),
        "odd digits": _page(client, account, which, {**forged, "InvId": "²"}),
    }

    for name, html in pages.items():
        assert _leaks(html, account, link, invoice) == [], name
    assert len(set(pages.values())) == 1  # nothing tells an existing InvId from a missing one


def test_a_signed_success_shows_the_invoice_without_claiming_it_paid(in_network, issued):
    account, link, invoice = issued
    client = in_network.anonymous()

    html = _page(client, account, "success", success_form(invoice, password1=account.password1))

    assert "1500,00 ₽" in html and account.partner.name in html
    assert "передан на обработку" in html and "оплата получена" not in html
    assert link.token not in html


def test_a_signed_success_after_the_notification_says_paid(in_network, issued):
    account, _, invoice = issued
    client = in_network.anonymous()
    Invoice.objects.filter(pk=invoice.pk).update(status="paid")  # as the notification left it

    html = _page(client, account, "success", success_form(invoice, password1=account.password1))

    assert "Спасибо, оплата получена" in html and "1500,00 ₽" in html


def test_a_success_signed_with_another_password_or_for_another_shop_says_nothing(
    in_network, issued
):
    account, link, invoice = issued
    client = in_network.anonymous()
    other = shop(merchant_login="other-shop")

    wrong_password = _page(
        client, account, "success", success_form(invoice, password1=account.password2)
    )
    result_password_as_test = _page(
        client,
        account,
        "success",
        success_form(invoice, password1=account.test_password1, is_test=True),
    )
    # the other partner's own Password #1, over this invoice's InvId, at the other's address
    other_shop = _page(client, other, "success", success_form(invoice, password1=other.password1))
    unknown_partner = client.get(
        f"/callbacks/robokassa/{uuid.uuid4()}/success/",
        success_form(invoice, password1=account.password1),
    ).content.decode()

    for html in (wrong_password, result_password_as_test, other_shop, unknown_partner):
        assert _leaks(html, account, link, invoice) == []


def test_a_success_with_another_amount_says_nothing(in_network, issued):
    account, link, invoice = issued
    cheaper = Invoice(pk=invoice.pk, amount=Decimal("1.00"), payment_url=invoice.payment_url)

    html = _page(
        in_network.anonymous(),
        account,
        "success",
        success_form(cheaper, password1=account.password1),
    )

    assert _leaks(html, account, link, invoice) == []


def test_a_signed_fail_offers_the_same_link_again(in_network, issued):
    account, link, invoice = issued

    html = _page(
        in_network.anonymous(),
        account,
        "fail",
        success_form(invoice, password1=account.password1),
    )

    assert f"/pay/{link.token}" in html and "Попробовать снова" in html


def test_a_test_invoice_is_verified_with_the_test_password(in_network):
    account = shop()
    invoice = shop_check_invoice_issue(partner=account.partner)
    client = in_network.anonymous()

    with_test = _page(
        client,
        account,
        "success",
        success_form(invoice, password1=account.test_password1, is_test=True),
    )
    live_password_without_test_flag = _page(
        client, account, "success", success_form(invoice, password1=account.password1)
    )

    assert "10,00 ₽" in with_test
    assert "10,00" not in live_password_without_test_flag
