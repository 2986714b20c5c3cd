"""fiscal.md §8 as a table: for every event (prepayment, remainder, whole price) paid before, at
or after the service, under every tax system and VAT rate a partner may have, the receipt each
payment carries and the settlement receipts the deal ends with."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing_providers.robokassa.receipts import build_settlement_receipt, json_number
from franchise_platform.flows.payment import callback_apply
from franchise_platform.payments.delivery import DeliverySource, deal_deliver
from franchise_platform.payments.models import (
    CallbackEvent,
    CallbackStatus,
    Deal,
    Invoice,
    LinkKind,
    SettlementReceipt,
)
from franchise_platform.payments.settlement import _request
from tests.factories import shop

from .helpers import active_link, callback, deal_with_links

pytestmark = pytest.mark.django_db

# (tax system, nominal VAT, computed VAT on an advance) — fiscal.md §6.3's legal pairs.
TAX = [
    ("usn_income", "none", "none"),
    ("usn_income_outcome", "vat5", "vat105"),
    ("usn_income", "vat7", "vat107"),
    ("osn", "vat22", "vat122"),
    ("osn", "vat10", "vat110"),
    ("esn", "vat22", "vat122"),
    ("patent", "none", "none"),
]

# scenario → (payments: (link kind, paid when), delivered after the payment with this index,
#             expected first receipts: (sum, method), expected settlements: offsets by payment)
# "before" is t_pay < t_svc, "at" t_pay ≥ t_svc (the service started), "after" past delivery.
SCENARIOS = {
    # (a) both parts paid before the service; the service day settles each operation
    "a_both_before": (
        [("prepayment", "before"), ("full", "before")],
        1,
        [("1500", "prepayment"), ("3500", "prepayment")],
        ["1500", "3500"],
    ),
    # (b) prepayment before, remainder at the service: B settles itself, A is offset at once
    "b_remainder_at_service": (
        [("prepayment", "before"), ("full", "at")],
        None,
        [("1500", "prepayment"), ("3500", "full_payment")],
        ["1500"],
    ),
    # (c) the whole price before the service
    "c_full_before": ([("full", "before")], 0, [("5000", "full_prepayment")], ["5000"]),
    # (d) the whole price at the service: one receipt, nothing to settle
    "d_full_at_service": ([("full", "at")], None, [("5000", "full_payment")], []),
    # (e) prepayment before, delivered, remainder after: S_A at delivery, B full_payment
    "e_remainder_after_delivery": (
        [("prepayment", "before"), ("full", "after")],
        0,
        [("1500", "prepayment"), ("3500", "full_payment")],
        ["1500"],
    ),
}


def _pay(client, account, deal, kind):
    """The buyer follows the link and pays; the notification is applied."""
    link = active_link(deal, LinkKind.PREPAYMENT if kind == "prepayment" else LinkKind.FULL)
    response = client.get(f"/pay/{link.token}")
    assert response.status_code == 302, response.content
    invoice = Invoice.objects.filter(link=link).order_by("-id").first()
    assert callback(client, account, inv_id=invoice.pk, out_sum=invoice.amount).status_code == 200
    for event in CallbackEvent.objects.filter(status=CallbackStatus.PENDING):
        callback_apply(event_id=str(event.pk))
    return invoice


@pytest.mark.parametrize(("tax_system", "vat", "computed"), TAX)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_receipts_of_every_combination(in_network, tax_system, vat, computed, scenario):
    payments, delivered_after, first_receipts, settlements = SCENARIOS[scenario]
    account = shop(fiscalization=True, partner__tax_system=tax_system, partner__vat=vat)
    deal = deal_with_links(account.partner.locations.get())
    client = in_network.anonymous()
    now = timezone.now()
    invoices = []
    for index, (kind, when) in enumerate(payments):
        if when == "before":
            Deal.objects.filter(pk=deal.pk).update(service_date=now + timedelta(days=2))
        elif when == "at":
            Deal.objects.filter(pk=deal.pk).update(service_date=now - timedelta(minutes=1))
        deal.refresh_from_db()
        invoices.append(_pay(client, account, deal, kind))
        if delivered_after == index:
            deal_deliver(deal_id=deal.pk, source=DeliverySource.PANEL)

    seen = []
    for invoice in invoices:
        (item,) = json.loads(invoice.receipt_json)["items"]
        assert json.loads(invoice.receipt_json)["sno"] == tax_system
        nominal = item["payment_method"] == "full_payment"
        assert item["tax"] == (vat if nominal else computed)
        assert invoice.settles_service is nominal
        seen.append((json_number(Decimal(str(item["sum"]))), item["payment_method"]))
    assert seen == first_receipts

    receipts = list(SettlementReceipt.objects.order_by("payment__paid_at"))
    assert [json_number(r.amount) for r in receipts] == settlements
    for receipt in receipts:
        payload = build_settlement_receipt(_request(receipt), merchant_login="m")
        (item,) = payload["items"]
        assert payload["originId"] == str(receipt.payment.invoice_id)
        assert int(payload["id"]) > 2**31  # never an InvId
        assert (item["payment_method"], item["tax"]) == ("full_payment", vat)
        assert payload["payments"] == [{"type": 2, "sum": receipt.amount}]
        assert payload["vats"][0]["type"] == vat
        assert payload["sno"] == tax_system
        assert payload["client"] == {"email": "buyer@example.com"}
        assert item["name"] == json.loads(receipt.payment.invoice.receipt_json)["items"][0]["name"]

    # Delivering (again) never settles an operation twice nor one paid at the service.
    deal_deliver(deal_id=deal.pk, source=DeliverySource.API)
    assert SettlementReceipt.objects.count() == len(settlements)


def test_test_payments_and_unfiscalized_shops_get_no_settlement(in_network):
    plain = shop(fiscalization=False)
    deal = deal_with_links(plain.partner.locations.get(), lead=7301)
    _pay(in_network.anonymous(), plain, deal, "full")
    _, created = deal_deliver(deal_id=deal.pk, source=DeliverySource.PANEL)
    assert created == [] and not SettlementReceipt.objects.exists()


def test_vat_amounts_of_the_worked_example(in_network):
    """fiscal.md §9.2: 1500 → 270.49 and 3500 → 631.15 at 22 %, together the VAT of 5000."""
    account = shop(fiscalization=True, partner__tax_system="osn", partner__vat="vat22")
    deal = deal_with_links(account.partner.locations.get(), lead=7302)
    client = in_network.anonymous()
    _pay(client, account, deal, "prepayment")
    deal.refresh_from_db()
    _pay(client, account, deal, "full")
    deal_deliver(deal_id=deal.pk, source=DeliverySource.PANEL)
    vats = [
        build_settlement_receipt(_request(r), merchant_login="m")["vats"][0]["sum"]
        for r in SettlementReceipt.objects.order_by("amount")
    ]
    assert vats == [Decimal("270.49"), Decimal("631.15")]
