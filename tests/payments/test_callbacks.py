"""Robokassa's ResultURL: verify, store, answer OK<InvId> only after the commit, apply once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from franchise_platform.flows.payment import callback_apply
from franchise_platform.payments.models import (
    CallbackEvent,
    CallbackStatus,
    Deal,
    Invoice,
    InvoiceStatus,
    LinkKind,
    LinkStatus,
    Payment,
)
from tests.factories import shop

from .helpers import active_link, callback, deal_with_links, visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def prepay(in_network):
    """A deal of 5000 with an issued prepayment invoice of 1500."""
    account = shop()
    deal = deal_with_links(account.partner.locations.get())
    visit(in_network.anonymous(), active_link(deal, LinkKind.PREPAYMENT))
    return account, deal, Invoice.objects.get()


def _apply_all():
    for event in CallbackEvent.objects.filter(status=CallbackStatus.PENDING):
        callback_apply(event_id=str(event.pk))


def test_valid_callback_answers_ok_and_is_stored(
    in_network, prepay, django_capture_on_commit_callbacks
):
    account, deal, invoice = prepay

    with django_capture_on_commit_callbacks() as queued:
        response = callback(
            in_network.anonymous(), account, inv_id=invoice.pk, out_sum="1500.000000"
        )

    assert response.status_code == 200
    assert response.content.decode() == f"OK{invoice.pk}"
    assert response["Content-Type"].startswith("text/plain")
    event = CallbackEvent.objects.get()
    assert event.accepted and event.status == CallbackStatus.PENDING
    assert event.params["OutSum"] == "1500.000000"  # kept exactly as received
    assert len(queued) == 1  # the apply task is queued after the commit, not before


def test_applying_records_payment_once_and_reprices_full_link(in_network, prepay):
    account, deal, invoice = prepay
    callback(in_network.anonymous(), account, inv_id=invoice.pk, out_sum="1500.000000")

    _apply_all()
    _apply_all()

    payment = Payment.objects.get()
    assert payment.amount == Decimal("1500.00") and payment.kind == "prepayment"
    deal = Deal.objects.get()
    assert deal.paid == Decimal("1500.00")
    assert deal.status == "partially_paid"
    full = active_link(deal, LinkKind.FULL)
    assert full.amount == Decimal("3500.00")
    assert deal.links.get(kind=LinkKind.PREPAYMENT).status == LinkStatus.PAID
    assert Invoice.objects.get().status == InvoiceStatus.PAID


def test_repeated_callback_answers_ok_again_and_changes_nothing(in_network, prepay):
    account, deal, invoice = prepay
    client = in_network.anonymous()
    callback(client, account, inv_id=invoice.pk, out_sum="1500.000000")
    _apply_all()

    again = callback(client, account, inv_id=invoice.pk, out_sum="1500.00")
    _apply_all()

    assert again.status_code == 200 and again.content.decode() == f"OK{invoice.pk}"
    assert Payment.objects.count() == 1
    assert CallbackEvent.objects.filter(accepted=True).count() == 1
    assert Deal.objects.get().paid == Decimal("1500.00")


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("bad_signature", "bad_signature"),
        ("unknown_invoice", "unknown_invoice"),
        ("amount", "amount_mismatch"),
    ],
)
def test_refused_callback_is_400_with_reason_kept_and_changes_nothing(
    in_network, prepay, kind, code
):
    account, deal, invoice = prepay
    kwargs = {"inv_id": invoice.pk, "out_sum": "1500.000000"}
    if kind == "bad_signature":
        kwargs["password2"] = "not-the-password"
    elif kind == "unknown_invoice":
        kwargs["inv_id"] = invoice.pk + 999
    else:
        kwargs["out_sum"] = "15.000000"

    response = callback(in_network.anonymous(), account, **kwargs)
    _apply_all()

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode().strip()
    event = CallbackEvent.objects.get()
    assert (
        not event.accepted and event.reason_code == code and event.status == CallbackStatus.REFUSED
    )
    assert Payment.objects.count() == 0
    assert Deal.objects.get().paid == Decimal("0.00")


def test_callback_for_another_partners_invoice_is_refused(in_network, prepay):
    account, deal, invoice = prepay
    other = shop()
    # Signed with the OTHER shop's password, sent to the other shop's address: not its invoice.
    response = callback(in_network.anonymous(), other, inv_id=invoice.pk, out_sum="1500.000000")

    assert response.status_code == 400
    assert Payment.objects.count() == 0


def test_test_callback_for_live_invoice_is_refused(in_network, prepay):
    account, deal, invoice = prepay

    response = callback(
        in_network.anonymous(), account, inv_id=invoice.pk, out_sum="1500.000000", is_test=True
    )

    assert response.status_code == 400
    assert CallbackEvent.objects.get().reason_code == "unexpected_test"


def test_full_payment_after_prepayment_marks_deal_paid(in_network, prepay):
    account, deal, invoice = prepay
    client = in_network.anonymous()
    callback(client, account, inv_id=invoice.pk, out_sum="1500.000000")
    _apply_all()
    visit(client, active_link(Deal.objects.get(), LinkKind.FULL))
    rest = Invoice.objects.get(status=InvoiceStatus.ISSUED)
    assert rest.amount == Decimal("3500.00") and rest.payment_kind == "remainder"

    callback(client, account, inv_id=rest.pk, out_sum="3500.000000")
    _apply_all()

    deal = Deal.objects.get()
    assert deal.paid == Decimal("5000.00") and deal.status == "paid"
    assert not deal.links.filter(status=LinkStatus.ACTIVE).exists()
    page = client.get(f"/pay/{deal.links.get(kind=LinkKind.FULL).token}")
    assert page.status_code == 200 and "уже оплачена" in page.content.decode()


def test_late_payment_of_a_replaced_invoice_is_recorded_and_flagged_as_overpaid(in_network, prepay):
    account, deal, invoice = prepay
    client = in_network.anonymous()
    full_link = active_link(deal, LinkKind.FULL)
    visit(client, full_link)
    full_invoice = Invoice.objects.get(link=full_link)
    # The buyer pays the full invoice AND the prepayment page left open in another tab.
    callback(client, account, inv_id=full_invoice.pk, out_sum="5000.000000")
    callback(client, account, inv_id=invoice.pk, out_sum="1500.000000")
    _apply_all()

    deal = Deal.objects.get()
    assert deal.paid == Decimal("6500.00")
    assert deal.status == "overpaid"
    assert deal.overpaid_amount == Decimal("1500.00")
    assert Payment.objects.count() == 2
