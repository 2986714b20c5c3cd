"""Issue 13, items 1–4: only our own, matching operation is money; test payments never are; no
stale or superseded invoice stays payable; a late payment on one is recorded and shown as due back.

Robokassa is the strict fake (tests/fakes/robokassa.py) where OpStateExt is involved."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from franchise_platform.crm_sync.models import OutboxMessage
from franchise_platform.flows.payment import callback_apply, invoice_reconcile
from franchise_platform.network.models import DEFAULT_INVOICE_NUMBER_START
from franchise_platform.network.selectors import network_settings_get
from franchise_platform.network.services.network_settings import network_settings_update
from franchise_platform.network.services.partners import partner_update
from franchise_platform.panel.timeline import timeline_events
from franchise_platform.payments.invoice_numbers import JUMP, _last_number
from franchise_platform.payments.models import (
    CallbackEvent,
    CallbackStatus,
    Deal,
    Invoice,
    InvoiceStatus,
    LinkKind,
    Payment,
)
from franchise_platform.payments.selectors import (
    deal_history,
    deal_links_view,
    deal_payments_view,
    payment_search,
    payment_totals,
)
from tests.factories import shop
from tests.panel_payments.conftest import crm_connection

from .helpers import active_link, callback, deal_with_links, visit

pytestmark = pytest.mark.django_db


def _apply_all():
    for event in CallbackEvent.objects.filter(status=CallbackStatus.PENDING):
        callback_apply(event_id=str(event.pk))


@pytest.fixture
def fake(robokassa_server):
    """The session's fake Robokassa as the provider's server side (OpStateExt included)."""
    options = {
        "robokassa": {
            "payment_url": robokassa_server.payment_url,
            "api_base_url": robokassa_server.api_base_url,
        }
    }
    with override_settings(BILLING_PROVIDER_OPTIONS=options):
        yield robokassa_server


def _register(fake, account):
    fake.register_shop(
        account.merchant_login,
        account.password1,
        account.password2,
        account.test_password1,
        account.test_password2,
        hash_algorithm=account.hash_algorithm,
    )


@pytest.fixture
def prepay(in_network):
    crm_connection()
    account = shop()
    deal = deal_with_links(account.partner.locations.get())
    _, params = visit(in_network.anonymous(), active_link(deal, LinkKind.PREPAYMENT))
    return account, deal, Invoice.objects.get(), params


# --- 1. Only our own, matching operation is booked ---------------------------------------------


def test_every_invoice_carries_its_own_marker_in_the_signed_request(in_network, prepay):
    _, deal, invoice, params = prepay
    _, other = visit(in_network.anonymous(), active_link(deal, LinkKind.FULL))

    assert len(invoice.marker) == 16
    assert params["Shp_mark"] == invoice.marker
    assert other["Shp_mark"] != invoice.marker


def test_a_signed_notification_without_the_invoice_marker_is_kept_but_never_a_payment(
    in_network, prepay
):
    """The shop's own site uses the same shop and Password #2: its notification for an InvId we
    also issued is correctly signed, but it is not ours."""
    account, deal, invoice, _ = prepay
    client = in_network.anonymous()

    no_marker = callback(client, account, inv_id=invoice.pk, out_sum="1500.000000", shp={})
    wrong = callback(
        client, account, inv_id=invoice.pk, out_sum="1500.000000", shp={"Shp_mark": "0" * 16}
    )
    _apply_all()

    assert (no_marker.status_code, wrong.status_code) == (400, 400)
    assert not Payment.objects.exists()
    events = CallbackEvent.objects.filter(invoice_number=invoice.pk)
    assert {(e.accepted, e.reason_code) for e in events} == {(False, "foreign_operation")}
    assert events.count() == 2  # both kept for the owner
    deal.refresh_from_db()
    assert deal.paid == Decimal("0.00")


def test_invoice_numbers_start_at_the_shops_start_far_above_its_own(in_network, prepay):
    account, _, invoice, params = prepay

    assert invoice.pk >= DEFAULT_INVOICE_NUMBER_START == account.invoice_number_start
    assert int(params["InvId"]) == invoice.pk


def _start_ahead(by=1000):
    # The network's sequence outlives the test's rollback: each test starts above where it is.
    return max(_last_number(), DEFAULT_INVOICE_NUMBER_START) + by


def test_a_shop_with_a_higher_start_gets_numbers_from_there(in_network):
    start = _start_ahead()
    account = shop(invoice_number_start=start)
    deal = deal_with_links(account.partner.locations.get())

    _, params = visit(in_network.anonymous(), active_link(deal, LinkKind.PREPAYMENT))

    assert int(params["InvId"]) == start


@override_settings(INVOICE_NUMBER_CHECK=True)
def test_before_the_first_invoice_the_shops_numbers_are_checked_and_taken_ones_skipped(
    in_network, fake
):
    start = _start_ahead()
    account = shop(invoice_number_start=start)
    _register(fake, account)
    # The shop's own history already holds the number we would start at.
    fake.add_history(account.merchant_login, start, "990.00")
    deal = deal_with_links(account.partner.locations.get())

    _, first = visit(in_network.anonymous(), active_link(deal, LinkKind.PREPAYMENT))
    asked = len(fake.requests)
    _, second = visit(in_network.anonymous(), active_link(deal, LinkKind.FULL))

    assert int(first["InvId"]) == start + JUMP
    assert int(second["InvId"]) > int(first["InvId"])
    assert len(fake.requests) == asked  # checked once, not on every invoice
    account.refresh_from_db()
    assert account.invoice_numbers_checked_at is not None
    assert str(start) in account.invoice_numbers_problem


@override_settings(INVOICE_NUMBER_CHECK=True)
def test_when_the_shop_cannot_be_asked_no_number_is_handed_out(in_network, fake):
    account = shop(invoice_number_start=_start_ahead())
    _register(fake, account)
    deal = deal_with_links(account.partner.locations.get())
    fake.op_state_http_status = 500
    try:
        response, params = visit(in_network.anonymous(), active_link(deal, LinkKind.PREPAYMENT))
    finally:
        fake.op_state_http_status = None

    assert response.status_code == 503 and params is None
    assert not Invoice.objects.exists()


def test_reconciliation_does_not_book_the_shops_own_paid_operation(in_network, fake, prepay):
    """OpStateExt says State 100 for our InvId, but the operation is the shop's own (no marker):
    kept, flagged, explained in the deal's timeline, never a payment; the number is withdrawn."""
    account, deal, invoice, _ = prepay
    _register(fake, account)
    fake.add_history(account.merchant_login, invoice.pk, "1500.00")  # even the same amount

    assert invoice_reconcile(invoice=invoice) is False

    assert not Payment.objects.exists()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.CONFLICT
    event = CallbackEvent.objects.get(invoice_number=invoice.pk)
    assert (event.accepted, event.reason_code, event.params["source"]) == (
        False,
        "foreign_operation",
        "OpStateExt",
    )
    account.refresh_from_db()
    assert str(invoice.pk) in account.invoice_numbers_problem
    titles = [e.title + " " + e.detail for e in timeline_events(deal_history(deal=deal))]
    assert any(str(invoice.pk) in t and "не платформа" in t for t in titles), titles
    # The next visit never hands the taken number out again.
    _, params = visit(in_network.anonymous(), active_link(deal, LinkKind.PREPAYMENT))
    assert int(params["InvId"]) != invoice.pk
    # And asking again changes nothing.
    assert invoice_reconcile(invoice=invoice) is False
    assert CallbackEvent.objects.filter(invoice_number=invoice.pk).count() == 1


def test_reconciliation_does_not_book_an_operation_of_another_amount(in_network, fake, prepay):
    account, deal, invoice, _ = prepay
    _register(fake, account)
    fake.add_history(
        account.merchant_login, invoice.pk, "15.00", shp=[("Shp_mark", invoice.marker)]
    )

    assert invoice_reconcile(invoice=invoice) is False

    assert not Payment.objects.exists()
    event = CallbackEvent.objects.get(invoice_number=invoice.pk)
    assert event.reason_code == "amount_mismatch" and event.amount == Decimal("15.00")


def test_reconciliation_books_our_own_operation_once(in_network, fake, prepay):
    account, deal, invoice, params = prepay
    _register(fake, account)
    fake.accept_payment_request(list(params.items()))
    fake.pay(account.merchant_login, invoice.pk, notify=False)

    assert invoice_reconcile(invoice=invoice) is True
    assert invoice_reconcile(invoice=invoice) is False

    assert Payment.objects.get().source == "reconciliation"
    deal.refresh_from_db()
    assert deal.paid == Decimal("1500.00")


# --- 2. Test payments are never money ----------------------------------------------------------


def test_a_test_payment_is_recorded_as_test_and_never_counts(in_network):
    crm_connection()
    account = shop(test_mode=True)
    deal = deal_with_links(account.partner.locations.get())
    link = active_link(deal, LinkKind.PREPAYMENT)
    _, params = visit(in_network.anonymous(), link)
    invoice = Invoice.objects.get()
    outbox_before = set(OutboxMessage.objects.values_list("pk", flat=True))

    response = callback(
        in_network.anonymous(), account, inv_id=invoice.pk, out_sum="1500.000000", is_test=True
    )
    _apply_all()

    assert response.status_code == 200 and params["IsTest"] == "1"
    payment = Payment.objects.get()
    assert payment.is_test
    deal.refresh_from_db()
    assert (deal.paid, deal.status) == (Decimal("0.00"), "open")
    link.refresh_from_db()
    assert (link.status, link.amount) == ("active", Decimal("1500.00"))
    new = OutboxMessage.objects.exclude(pk__in=outbox_before)
    assert [m.kind for m in new] == ["note"]  # no paid state pushed to the lead
    assert "ТЕСТ" in new.get().payload["text"]
    assert payment_totals(payments=payment_search()).amount == Decimal("0.00")
    widget = deal_links_view(deal=deal, network=in_network.network)["deal"]
    assert (widget["paid"], widget["test_paid"]) == ("0.00", "1500.00")
    assert [p["is_test"] for p in deal_payments_view(deal=deal)] == [True]


def test_switching_a_shop_to_live_retires_its_unpaid_test_invoices(in_network):
    account = shop(test_mode=True)
    deal = deal_with_links(account.partner.locations.get())
    link = active_link(deal, LinkKind.PREPAYMENT)
    _, test_params = visit(in_network.anonymous(), link)

    partner_update(actor="owner", partner=account.partner, changes={}, shop={"test_mode": False})
    _, live_params = visit(in_network.anonymous(), link)

    assert test_params["IsTest"] == "1"
    assert Invoice.objects.get(pk=int(test_params["InvId"])).status == InvoiceStatus.RETIRED
    assert "IsTest" not in live_params
    assert live_params["InvId"] != test_params["InvId"]


# --- 3. No stale invoice is handed out ---------------------------------------------------------


def _change_password(account):
    partner_update(actor="o", partner=account.partner, changes={}, shop={"password1": "new-pw-1"})


def _change_algorithm(account):
    partner_update(
        actor="o", partner=account.partner, changes={}, shop={"hash_algorithm": "sha256"}
    )


def _change_login(account):
    partner_update(actor="o", partner=account.partner, changes={}, shop={"merchant_login": "moved"})


def _change_fiscalization(account):
    partner_update(actor="o", partner=account.partner, changes={}, shop={"fiscalization": True})


def _change_tax_system(account):
    partner_update(actor="o", partner=account.partner, changes={"tax_system": "patent"})


def _change_vat(account):
    partner_update(actor="o", partner=account.partner, changes={"vat": "vat5"})


def _change_item_name(account):
    current = network_settings_get()
    network_settings_update(
        actor="o",
        prepayment_mode=current.prepayment_mode,
        prepayment_value=current.prepayment_value,
        invoice_ttl_hours=current.invoice_ttl_hours,
        item_name="Игра в квест «{location}»",
    )


@pytest.mark.parametrize(
    "change",
    [
        _change_password,
        _change_algorithm,
        _change_login,
        _change_fiscalization,
        _change_tax_system,
        _change_vat,
        _change_item_name,
    ],
)
def test_changing_anything_signed_into_an_invoice_retires_it(in_network, change):
    account = shop()
    deal = deal_with_links(account.partner.locations.get())
    link = active_link(deal, LinkKind.PREPAYMENT)
    _, before = visit(in_network.anonymous(), link)

    change(account)
    _, after = visit(in_network.anonymous(), link)

    assert Invoice.objects.get(pk=int(before["InvId"])).status == InvoiceStatus.RETIRED
    assert after["InvId"] != before["InvId"]
    assert after["SignatureValue"] != before["SignatureValue"]


def test_an_invoice_signed_with_other_inputs_is_not_reused_even_without_a_service(in_network):
    """Whatever changed the partner (admin, a data fix), the fingerprint tells at the visit."""
    account = shop(fiscalization=True)
    deal = deal_with_links(account.partner.locations.get())
    link = active_link(deal, LinkKind.PREPAYMENT)
    _, before = visit(in_network.anonymous(), link)
    type(account.partner).objects.filter(pk=account.partner_id).update(vat="vat5")

    _, after = visit(in_network.anonymous(), link)

    assert after["InvId"] != before["InvId"]
    assert "vat105" in after["Receipt"]


# --- 4. Superseded invoices --------------------------------------------------------------------


def test_an_issued_invoice_is_payable_only_within_the_short_window(in_network, prepay):
    _, _, invoice, params = prepay

    deadline = datetime.fromisoformat(params["ExpirationDate"])
    assert deadline <= timezone.now() + timedelta(minutes=30, seconds=5)
    assert invoice.expires_at <= timezone.now() + timedelta(minutes=30, seconds=5)


def test_the_payment_window_is_configurable(in_network):
    deal = deal_with_links(shop().partner.locations.get())

    with override_settings(INVOICE_PAYMENT_WINDOW_MINUTES=45):
        visit(in_network.anonymous(), active_link(deal, LinkKind.PREPAYMENT))

    left = Invoice.objects.get().expires_at - timezone.now()
    assert timedelta(minutes=44) < left <= timedelta(minutes=45)


def test_a_payment_on_a_superseded_invoice_is_recorded_and_shows_what_to_refund(in_network, prepay):
    account, deal, old, _ = prepay
    client = in_network.anonymous()
    _, full = visit(client, active_link(deal, LinkKind.FULL))
    callback(client, account, inv_id=int(full["InvId"]), out_sum="5000.000000")
    _apply_all()

    # The buyer still had the prepayment page open and pays it after all.
    late = callback(client, account, inv_id=old.pk, out_sum="1500.000000")
    _apply_all()

    assert late.status_code == 200  # real money: never refused
    payment = Payment.objects.get(invoice=old)
    assert payment.superseded
    assert payment.refund_due == Decimal("1500.00")
    deal = Deal.objects.get(pk=deal.pk)
    assert (deal.paid, deal.status, deal.overpaid_amount) == (
        Decimal("6500.00"),
        "overpaid",
        Decimal("1500.00"),
    )
    note = OutboxMessage.objects.get(dedupe_key=f"note:payment:{payment.pk}").payload["text"]
    assert "Вернуть покупателю: 1500.00 ₽" in note
    assert "заменён" in note


def test_a_superseded_invoice_that_brings_no_excess_owes_no_refund(in_network, prepay):
    account, deal, old, _ = prepay
    deal.total = Decimal("8000.00")  # re-priced upwards: the old prepayment is still welcome
    deal.save()
    old.status = InvoiceStatus.EXPIRED
    old.save()

    callback(in_network.anonymous(), account, inv_id=old.pk, out_sum="1500.000000")
    _apply_all()

    payment = Payment.objects.get(invoice=old)
    assert payment.superseded and payment.refund_due == Decimal("0.00")


def test_a_test_payment_says_test_in_the_panel_and_the_export(in_network):
    account = shop(test_mode=True)
    deal = deal_with_links(account.partner.locations.get())
    _, params = visit(in_network.anonymous(), active_link(deal, LinkKind.FULL))
    callback(
        in_network.anonymous(), account, inv_id=int(params["InvId"]), out_sum="5000", is_test=True
    )
    _apply_all()
    owner = in_network.owner.browser_client()

    page = owner.get(f"/panel/deals/{deal.pk}/").content.decode()
    listing = owner.get("/panel/payments/").content.decode()
    # The export is streamed (panel/views/exports.py).
    export = b"".join(owner.get("/panel/payments/export.csv").streaming_content).decode("utf-8-sig")

    assert "ТЕСТ: тестовая оплата" in page and "ТЕСТ" in listing
    assert 'id="payments-count">1<' not in listing  # not counted as money
    header, row = export.splitlines()[:2]
    assert header.endswith(",label") and row.endswith(",1,ТЕСТ")


@override_settings(INVOICE_NUMBER_CHECK=True)
def test_a_provider_that_cannot_tell_unused_numbers_is_not_asked(in_network):
    account = shop(provider="dummy", invoice_number_start=_start_ahead())
    deal = deal_with_links(account.partner.locations.get())

    response = in_network.anonymous().get(f"/pay/{active_link(deal, LinkKind.PREPAYMENT).token}")

    assert response.status_code == 302
    assert Invoice.objects.get().pk == account.invoice_number_start
