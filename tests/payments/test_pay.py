"""/pay/<token>: a provider invoice for the amount due now; nothing stale can be paid."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from urllib.parse import unquote

import pytest
from django.utils import timezone

from franchise_platform.payments.models import Invoice, InvoiceStatus, LinkKind
from tests.factories import shop

from .helpers import active_link, deal_with_links, visit

pytestmark = pytest.mark.django_db


def test_visit_redirects_to_robokassa_with_signed_invoice(in_network, settings):
    account = shop(hash_algorithm="sha256")
    deal = deal_with_links(account.partner.locations.get())
    link = active_link(deal, LinkKind.PREPAYMENT)

    response, params = visit(in_network.anonymous(), link)

    assert response.status_code == 302
    assert response["Location"].startswith(settings.ROBOKASSA_PAYMENT_URL + "?")
    invoice = Invoice.objects.get()
    assert params["MerchantLogin"] == account.merchant_login
    assert params["InvId"] == str(invoice.pk)
    assert Decimal(params["OutSum"]) == Decimal("1500.00")
    assert len(params["SignatureValue"]) == 64  # sha256
    assert "ExpirationDate" in params and "Description" in params
    assert "IsTest" not in params
    assert invoice.amount == Decimal("1500.00")
    assert invoice.payment_kind == "prepayment"


def test_second_visit_reuses_the_unexpired_invoice(in_network):
    deal = deal_with_links(shop().partner.locations.get())
    link = active_link(deal, LinkKind.FULL)
    client = in_network.anonymous()

    first, _ = visit(client, link)
    second, _ = visit(client, link)

    assert first["Location"] == second["Location"]
    assert Invoice.objects.count() == 1


def test_expired_invoice_is_replaced_on_next_visit(in_network):
    deal = deal_with_links(shop().partner.locations.get())
    link = active_link(deal, LinkKind.FULL)
    client = in_network.anonymous()
    visit(client, link)
    Invoice.objects.update(expires_at=timezone.now() - timedelta(minutes=1))

    _, params = visit(client, link)

    assert Invoice.objects.count() == 2
    old, new = Invoice.objects.order_by("id")
    assert old.status == InvoiceStatus.EXPIRED
    assert params["InvId"] == str(new.pk)


def test_changed_amount_gets_a_new_invoice_never_the_stale_one(in_network):
    location = shop().partner.locations.get()
    deal = deal_with_links(location, total="5000")
    link = active_link(deal, LinkKind.FULL)
    client = in_network.anonymous()
    visit(client, link)

    deal_with_links(location, total="7000")
    _, params = visit(client, link)

    assert Decimal(params["OutSum"]) == Decimal("7000.00")
    assert Invoice.objects.filter(status=InvoiceStatus.ISSUED).count() == 1


def test_test_mode_shop_uses_test_flag(in_network):
    deal = deal_with_links(shop(test_mode=True).partner.locations.get())

    _, params = visit(in_network.anonymous(), active_link(deal, LinkKind.FULL))

    assert params["IsTest"] == "1"


def test_fiscal_shop_sends_a_receipt(in_network):
    account = shop(fiscalization=True)
    account.partner.tax_system = "osn"
    account.partner.vat = "vat22"
    account.partner.save()
    deal = deal_with_links(account.partner.locations.get())

    _, params = visit(in_network.anonymous(), active_link(deal, LinkKind.PREPAYMENT))

    # The Receipt is URL-encoded once inside the signed value (and once more in the link).
    receipt = json.loads(unquote(params["Receipt"]))
    item = receipt["items"][0]
    assert receipt["sno"] == "osn"
    assert item["payment_method"] == "prepayment"
    assert item["tax"] == "vat122"
    assert Decimal(str(item["sum"])) == Decimal("1500")


def test_unknown_token_is_404(in_network):
    assert in_network.anonymous().get("/pay/not-a-real-token").status_code == 404


def test_suspended_network_says_payment_is_unavailable(in_network):
    deal = deal_with_links(shop().partner.locations.get())
    network = in_network.network
    network.status = "suspended"
    network.save()
    try:
        response = in_network.anonymous().get(f"/pay/{active_link(deal, LinkKind.FULL).token}")
    finally:
        network.status = "active"
        network.save()

    assert response.status_code == 503
    assert "временно недоступна" in response.content.decode()
    assert Invoice.objects.count() == 0
