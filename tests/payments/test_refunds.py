"""Issue 15, items 3 and 4: refunds through Robokassa's Refund API (Password #3), polled until
final, taken into the deal once; refunds made in the cabinet noticed by OpStateExt State 60.

Robokassa is the strict fake (tests/fakes/robokassa.py): it checks the JWT with Password #3, the
compact payload, the operation's OpKey and state and what is left of it."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from franchise_platform.crm_sync.models import OutboxMessage
from franchise_platform.flows.payment import callback_apply
from franchise_platform.flows.refund import paid_invoices_watch, refund_poll
from franchise_platform.payments.models import (
    CallbackEvent,
    CallbackStatus,
    Deal,
    Invoice,
    LinkKind,
    LinkStatus,
    Payment,
    Refund,
)
from franchise_platform.payments.refunds import (
    RefundRefused,
    refund_amount_parse,
    refund_confirmation_ok,
    refund_request,
    refunds_requeue,
)
from tests.factories import shop
from tests.panel_payments.conftest import crm_connection

from .helpers import active_link, callback, deal_with_links, visit

pytestmark = pytest.mark.django_db

PASSWORD3 = "Pa55word3-refunds"


@pytest.fixture
def fake(robokassa_server):
    options = {
        "robokassa": {
            "payment_url": robokassa_server.payment_url,
            "api_base_url": robokassa_server.api_base_url,
        }
    }
    robokassa_server.refund_processing_polls = 1
    robokassa_server.refund_http_status = None
    with override_settings(BILLING_PROVIDER_OPTIONS=options, REFUND_WATCH_PAUSE_MS=0):
        yield robokassa_server


def _register(fake, account, *, password3=PASSWORD3):
    fake.register_shop(
        account.merchant_login,
        account.password1,
        account.password2,
        account.test_password1,
        account.test_password2,
        hash_algorithm=account.hash_algorithm,
        password3=password3,
    )


def _pay(fake, in_network, account, deal, kind):
    """The buyer pays one link: the fake holds the operation (State 100), our callback applies."""
    _, params = visit(in_network.anonymous(), active_link(deal, kind))
    fake.accept_payment_request(list(params.items()))
    fake.pay(account.merchant_login, int(params["InvId"]), notify=False)
    response = callback(
        in_network.anonymous(),
        account,
        inv_id=int(params["InvId"]),
        out_sum=params["OutSum"] + "0000",
    )
    assert response.status_code == 200, response.content
    for event in CallbackEvent.objects.filter(status=CallbackStatus.PENDING):
        callback_apply(event_id=str(event.pk))
    return Payment.objects.get(invoice_id=int(params["InvId"]))


@pytest.fixture
def paid(fake, in_network):
    """A 5000 ₽ deal with its 1500 ₽ prepayment paid; the shop has Password #3."""
    crm_connection()
    account = shop(password3=PASSWORD3)
    _register(fake, account)
    deal = deal_with_links(account.partner.locations.get())
    payment = _pay(fake, in_network, account, deal, LinkKind.PREPAYMENT)
    return account, deal, payment


def _finish(refund):
    """Poll until the fake says finished (it answers "processing" once first)."""
    assert refund_poll(refund_id=str(refund.pk)) == "processing"
    assert refund_poll(refund_id=str(refund.pk)) == "finished"
    refund.refresh_from_db()
    return refund


def _owner(in_network):
    return in_network.owner.user()


def _created_payload(fake):
    """The payload of the last Refund/Create request the fake received, decoded."""
    import base64

    body = [r for r in fake.requests if r.path.endswith("/Refund/Create")][-1].body
    token = json.loads(body)
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


# --- amounts and confirmation ----------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["", "0", "-5", "abc", "1.005", "NaN", "Infinity", "1e12", "1e400", "-1e400", None]
)
def test_a_bad_amount_is_refused_in_russian(raw):
    with pytest.raises(RefundRefused) as refused:
        refund_amount_parse(raw)
    assert refused.value.code == "invalid_amount"
    assert "сумм" in refused.value.detail.lower()


def test_a_tiny_exponent_is_refused_too():
    with pytest.raises(RefundRefused):
        refund_amount_parse("1e-400")


def test_typed_confirmation_is_the_word_or_the_amount():
    amount = Decimal("1500.00")
    assert refund_confirmation_ok(typed="ВОЗВРАТ", amount=amount)
    assert refund_confirmation_ok(typed=" возврат ", amount=amount)
    assert refund_confirmation_ok(typed="1500", amount=amount)
    assert refund_confirmation_ok(typed="1500,00", amount=amount)
    assert not refund_confirmation_ok(typed="1499", amount=amount)
    assert not refund_confirmation_ok(typed="да", amount=amount)
    assert not refund_confirmation_ok(typed="", amount=amount)


# --- item 3: refunds through the platform ----------------------------------------------------


def test_a_partial_refund_is_sent_with_password3_polled_and_taken_into_the_deal_once(
    in_network, fake, paid
):
    account, deal, payment = paid
    outcome = refund_request(
        payment_id=payment.pk, amount=Decimal("500.00"), user=_owner(in_network)
    )
    refund = outcome.refund
    assert outcome.created and refund.status == "processing" and refund.provider_request_id
    payload = _created_payload(fake)
    assert payload["RefundSum"] == 500  # partial: the sum is named
    assert "InvoiceItems" not in payload  # the shop does not fiscalize
    assert refund.receipt == "not_required"
    deal.refresh_from_db()
    assert deal.paid == Decimal("1500.00")  # nothing changes until the money went back

    _finish(refund)
    deal.refresh_from_db()
    assert refund.status == "finished" and refund.applied
    assert (deal.paid, deal.refunded, deal.status) == (
        Decimal("1000.00"),
        Decimal("500.00"),
        "partially_refunded",
    )
    assert active_link(deal, LinkKind.FULL).amount == Decimal("4000.00")  # re-priced
    notes = OutboxMessage.objects.filter(kind="note", dedupe_key=f"note:refund:{refund.pk}")
    assert notes.count() == 1 and "Возврат 500.00 ₽" in notes.get().payload["text"]
    # A second finish changes nothing: the deal took it once.
    assert refund_poll(refund_id=str(refund.pk)) is None
    deal.refresh_from_db()
    assert deal.refunded == Decimal("500.00")


def test_a_full_refund_omits_the_sum_closes_the_links_and_marks_the_deal_refunded(
    in_network, fake, paid
):
    account, deal, payment = paid
    refund = refund_request(
        payment_id=payment.pk, amount=Decimal("1500.00"), user=_owner(in_network)
    ).refund
    assert "RefundSum" not in _created_payload(fake)  # "не указывать при полном возврате"
    _finish(refund)

    deal.refresh_from_db()
    assert (deal.paid, deal.refunded, deal.status) == (
        Decimal("0.00"),
        Decimal("1500.00"),
        "refunded",
    )
    assert not deal.links.filter(status=LinkStatus.ACTIVE).exists()
    assert fake.invoice(account.merchant_login, payment.invoice_id).state == 60


def test_a_fiscalizing_shop_sends_the_refund_receipt_items_mirroring_the_payment_receipt(
    in_network, fake
):
    crm_connection()
    account = shop(password3=PASSWORD3, fiscalization=True)
    _register(fake, account)
    deal = deal_with_links(account.partner.locations.get())
    payment = _pay(fake, in_network, account, deal, LinkKind.PREPAYMENT)
    printed = json.loads(payment.invoice.receipt_json)["items"][0]

    refund = refund_request(
        payment_id=payment.pk, amount=Decimal("700.00"), user=_owner(in_network)
    ).refund

    items = _created_payload(fake)["InvoiceItems"]
    assert items == [
        {
            "Name": printed["name"],
            "Quantity": 1,
            "Cost": 700,
            "Tax": printed["tax"],
            "PaymentMethod": printed["payment_method"],
            "PaymentObject": printed["payment_object"],
        }
    ]
    assert refund.receipt == "provider"
    assert _refund_receipts(deal) == [("refund", "700.00", "queued", payment.invoice_id)]
    assert _finish(refund).receipt == "issued"
    assert _refund_receipts(deal) == [("refund", "700.00", "sent", payment.invoice_id)]


def _refund_receipts(deal):
    from franchise_platform.payments.selectors import deal_receipts_view

    return [
        (r["kind"], r["amount"], r["status"], r["payment_invoice_id"])
        for r in deal_receipts_view(deal=deal)
        if r["kind"] == "refund"
    ]


def test_more_than_is_left_is_refused_and_nothing_is_sent(in_network, fake, paid):
    _, deal, payment = paid
    refund_request(payment_id=payment.pk, amount=Decimal("1000.00"), user=_owner(in_network))
    sent = len(fake.requests)

    with pytest.raises(RefundRefused) as refused:
        refund_request(payment_id=payment.pk, amount=Decimal("500.01"), user=_owner(in_network))

    assert refused.value.code == "refund_exceeds_refundable"
    assert "500.00" in refused.value.detail
    assert len(fake.requests) == sent
    assert Refund.objects.count() == 1


def test_the_same_key_answers_the_same_refund_and_another_amount_is_a_conflict(
    in_network, fake, paid
):
    _, _, payment = paid
    user = _owner(in_network)
    sent = len(fake.requests)
    first = refund_request(
        payment_id=payment.pk, amount=Decimal("300"), user=user, idempotency_key="k-1"
    )
    again = refund_request(
        payment_id=payment.pk, amount=Decimal("300"), user=user, idempotency_key="k-1"
    )
    assert first.created and not again.created and again.refund.pk == first.refund.pk
    assert len([r for r in fake.requests[sent:] if r.path.endswith("/Create")]) == 1

    with pytest.raises(RefundRefused) as conflict:
        refund_request(
            payment_id=payment.pk, amount=Decimal("301"), user=user, idempotency_key="k-1"
        )
    assert (conflict.value.status, conflict.value.code) == (409, "idempotency_conflict")


def test_a_viewer_cannot_refund(in_network, fake, paid):
    _, _, payment = paid
    with pytest.raises(RefundRefused) as refused:
        refund_request(payment_id=payment.pk, amount=Decimal("100"), user=in_network.viewer.user())
    assert (refused.value.status, refused.value.code) == (403, "forbidden")
    assert not Refund.objects.exists()


def test_an_admin_can_refund(in_network, fake, paid):
    _, _, payment = paid
    outcome = refund_request(
        payment_id=payment.pk, amount=Decimal("100"), user=in_network.admin.user()
    )
    assert outcome.refund.status == "processing"


def test_without_password3_the_refund_is_refused_with_a_clear_russian_error(in_network, fake):
    crm_connection()
    account = shop()  # no Password #3
    _register(fake, account, password3=None)
    deal = deal_with_links(account.partner.locations.get())
    payment = _pay(fake, in_network, account, deal, LinkKind.PREPAYMENT)

    with pytest.raises(RefundRefused) as refused:
        refund_request(payment_id=payment.pk, amount=Decimal("100"), user=_owner(in_network))

    assert refused.value.code == "refund_password_missing"
    assert "Пароль #3" in refused.value.detail
    assert not [
        r
        for r in fake.requests
        if "Refund" in r.path and r.body and account.merchant_login in r.body
    ]
    assert not Refund.objects.exists()


def test_a_wrong_password3_is_refused_by_robokassa_and_releases_the_amount(in_network, fake):
    crm_connection()
    account = shop(password3="not-the-shops")
    _register(fake, account)
    deal = deal_with_links(account.partner.locations.get())
    payment = _pay(fake, in_network, account, deal, LinkKind.PREPAYMENT)

    refund = refund_request(
        payment_id=payment.pk, amount=Decimal("100"), user=_owner(in_network)
    ).refund

    assert refund.status == "failed" and "InvalidSignature" in refund.error
    # Released: the whole payment can still be refunded.
    retry = refund_request(
        payment_id=payment.pk, amount=Decimal("1500"), user=_owner(in_network)
    ).refund
    assert retry.status == "failed"  # same password, refused again, but not by our limit


def test_no_answer_leaves_the_refund_unknown_and_it_is_never_resent(in_network, fake, paid):
    _, deal, payment = paid
    fake.refund_http_status = 500
    try:
        refund = refund_request(
            payment_id=payment.pk, amount=Decimal("200"), user=_owner(in_network)
        ).refund
    finally:
        fake.refund_http_status = None
    assert refund.status == "unknown" and "кабинет" in refund.error
    # Still held: 1300 is the most that can be asked now.
    with pytest.raises(RefundRefused):
        refund_request(payment_id=payment.pk, amount=Decimal("1300.01"), user=_owner(in_network))
    refunds_requeue()
    refund.refresh_from_db()
    assert refund.status == "unknown"


def test_a_refund_cancelled_in_the_cabinet_releases_the_amount(in_network, fake, paid):
    _, deal, payment = paid
    refund = refund_request(
        payment_id=payment.pk, amount=Decimal("1500"), user=_owner(in_network)
    ).refund
    fake.set_refund_label(refund.provider_request_id, "canceled")

    assert refund_poll(refund_id=str(refund.pk)) == "canceled"
    deal.refresh_from_db()
    assert deal.refunded == Decimal("0.00") and deal.status == "partially_paid"
    again = refund_request(
        payment_id=payment.pk, amount=Decimal("1500"), user=_owner(in_network)
    ).refund
    assert again.status == "processing"


def test_a_test_payment_is_not_refundable(in_network, fake):
    crm_connection()
    account = shop(password3=PASSWORD3)
    _register(fake, account)
    deal = deal_with_links(account.partner.locations.get())
    payment = _pay(fake, in_network, account, deal, LinkKind.PREPAYMENT)
    Payment.objects.filter(pk=payment.pk).update(is_test=True)

    with pytest.raises(RefundRefused) as refused:
        refund_request(payment_id=payment.pk, amount=Decimal("100"), user=_owner(in_network))
    assert refused.value.code == "test_payment"


def test_an_overpayment_refund_brings_the_deal_back_to_paid(in_network, fake, paid):
    account, deal, prepayment = paid
    full = _pay(fake, in_network, account, deal, LinkKind.FULL)
    Payment.objects.filter(pk=full.pk).update(refund_due=Decimal("1500.00"))
    Deal.objects.filter(pk=deal.pk).update(
        paid=Decimal("6500.00"), status="overpaid", overpaid_amount=Decimal("1500.00")
    )

    refund = refund_request(
        payment_id=full.pk, amount=Decimal("1500.00"), user=_owner(in_network)
    ).refund
    _finish(refund)

    deal.refresh_from_db()
    full.refresh_from_db()
    assert (deal.status, deal.paid, deal.overpaid_amount) == (
        "paid",
        Decimal("5000.00"),
        Decimal("0.00"),
    )
    assert full.refund_due == Decimal("0.00")


def test_an_overdue_poll_is_picked_up_by_the_sweeper(in_network, fake, paid, monkeypatch):
    _, _, payment = paid
    refund = refund_request(
        payment_id=payment.pk, amount=Decimal("100"), user=_owner(in_network)
    ).refund
    Refund.objects.filter(pk=refund.pk).update(next_check_at=timezone.now() - timedelta(hours=1))
    queued = []
    from franchise_platform.payments import tasks

    monkeypatch.setattr(tasks.refund_poll_task, "delay", lambda rid: queued.append(rid))

    assert refunds_requeue() == 1
    assert queued == [str(refund.pk)]


# --- item 4: refunds made elsewhere ----------------------------------------------------------


def test_a_refund_made_in_the_cabinet_is_noticed_once(in_network, fake, paid):
    account, deal, payment = paid
    assert paid_invoices_watch() == 0  # State 100: nothing to notice
    fake.cabinet_refund(account.merchant_login, payment.invoice_id)
    Invoice.objects.filter(pk=payment.invoice_id).update(last_checked_at=None)

    assert paid_invoices_watch() == 1
    Invoice.objects.filter(pk=payment.invoice_id).update(last_checked_at=None)
    assert paid_invoices_watch() == 0  # once per operation

    refund = Refund.objects.get()
    assert (refund.source, refund.status, refund.amount, refund.receipt) == (
        "provider",
        "finished",
        Decimal("1500.00"),
        "manual",
    )
    deal.refresh_from_db()
    assert (deal.status, deal.paid, deal.refunded) == (
        "refunded",
        Decimal("0.00"),
        Decimal("1500.00"),
    )
    note = OutboxMessage.objects.get(dedupe_key=f"note:refund:{refund.pk}")
    assert "не платформой" in note.payload["text"]


def test_our_own_full_refund_is_not_noticed_again_as_one_made_elsewhere(in_network, fake, paid):
    _, deal, payment = paid
    _finish(
        refund_request(
            payment_id=payment.pk, amount=Decimal("1500"), user=_owner(in_network)
        ).refund
    )
    Invoice.objects.filter(pk=payment.invoice_id).update(last_checked_at=None)

    assert paid_invoices_watch() == 0
    assert Refund.objects.count() == 1
    deal.refresh_from_db()
    assert deal.refunded == Decimal("1500.00")


def test_the_watch_is_bounded_and_asks_only_for_the_configured_period(in_network, fake, paid):
    _, _, payment = paid
    Payment.objects.filter(pk=payment.pk).update(paid_at=timezone.now() - timedelta(days=31))
    asked = len(fake.requests)
    with override_settings(REFUND_WATCH_DAYS=30):
        assert paid_invoices_watch() == 0
    assert len(fake.requests) == asked  # too old: not asked
    Payment.objects.filter(pk=payment.pk).update(paid_at=timezone.now())
    with override_settings(REFUND_WATCH_BATCH=0):
        from franchise_platform.payments.refunds import payments_to_watch

        assert len(payments_to_watch(limit=1)) == 1


def test_a_processing_refund_is_polled_again_with_backoff(in_network, fake, paid, monkeypatch):
    _, _, payment = paid
    fake.refund_processing_polls = 3
    refund = refund_request(
        payment_id=payment.pk, amount=Decimal("100"), user=_owner(in_network)
    ).refund
    from franchise_platform.payments import refunds as refunds_module

    delays = []
    monkeypatch.setattr(
        refunds_module, "_queue_poll", lambda rid, *, countdown: delays.append(countdown)
    )
    with override_settings(REFUND_POLL_FIRST_SECONDS=10):
        for _ in range(3):
            assert refund_poll(refund_id=str(refund.pk)) == "processing"
        assert refund_poll(refund_id=str(refund.pk)) == "finished"

    assert delays == [10, 20, 40]
    refund.refresh_from_db()
    assert refund.attempts == 3 and refund.status == "finished"


def test_a_lead_field_made_before_refunds_existed_gets_the_new_status_first(in_network, fake, paid):
    from franchise_platform.crm_sync.models import CrmConnection

    _, _, payment = paid
    old_options = {"open": 1, "partially_paid": 2, "paid": 3, "overpaid": 4}
    CrmConnection.objects.update(field_map={"status_options": old_options})
    _finish(
        refund_request(payment_id=payment.pk, amount=Decimal("100"), user=_owner(in_network)).refund
    )
    kinds = list(OutboxMessage.objects.order_by("created_at").values_list("kind", flat=True))
    assert "fields_sync" in kinds


def test_only_a_full_refund_raises_the_refunded_stage_event(in_network, fake, paid, monkeypatch):
    from franchise_platform.flows import refund as refunds

    raised = []
    monkeypatch.setattr(
        refunds,
        "lead_stage_event_queue",
        lambda *, deal, event, **_: raised.append((deal.pk, str(event))),
    )
    account, deal, payment = paid
    _finish(
        refund_request(
            payment_id=payment.pk, amount=Decimal("500.00"), user=_owner(in_network)
        ).refund
    )
    assert raised == []  # a partial refund leaves the lead where it is
    _finish(
        refund_request(
            payment_id=payment.pk, amount=Decimal("1000.00"), user=_owner(in_network)
        ).refund
    )
    assert raised == [(deal.pk, "refunded")]
