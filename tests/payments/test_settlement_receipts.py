"""Processing settlement receipts against the strict fake Robokassa: send, poll until
registered, back off while it is down (asking before any resend), fail with a reason, never
twice; the sweeper picks up a receipt whose message was lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from franchise_platform.flows.settlement import settlement_receipt_process
from franchise_platform.payments.delivery import DeliverySource, deal_deliver
from franchise_platform.payments.models import (
    Payment,
    SettlementReceipt,
    SettlementReceiptStatus,
)
from franchise_platform.payments.settlement import (
    settlement_receipts_queue,
    settlement_receipts_requeue,
)
from tests.factories import shop
from tests.fakes.robokassa import FakeRobokassa

from .helpers import deal_with_links
from .test_fiscal_table import _pay

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(settings):
    with FakeRobokassa() as server:
        settings.BILLING_PROVIDER_OPTIONS = {
            **settings.BILLING_PROVIDER_OPTIONS,
            "robokassa": {
                "payment_url": server.payment_url,
                "api_base_url": server.api_base_url,
                "fiscal_base_url": server.fiscal_base_url,
            },
        }
        yield server


@pytest.fixture
def delivered(in_network, fake):
    """A 5000 deal of an ООО on ОСН, prepaid 1500 then 3500 before the service, delivered."""
    account = shop(fiscalization=True, partner__tax_system="osn", partner__vat="vat22")
    fake.register_shop(account.merchant_login, account.password1, account.password2)
    deal = deal_with_links(account.partner.locations.get(), lead=7401)
    client = in_network.anonymous()
    for kind in ("prepayment", "full"):
        invoice = _pay(client, account, deal, kind)
        fake.add_history(account.merchant_login, invoice.pk, invoice.amount)
        deal.refresh_from_db()
    deal_deliver(deal_id=deal.pk, source=DeliverySource.CRM_STAGE)
    return account, deal


def _process_all():
    """Each receipt's wake-up comes: its next step is due now."""
    SettlementReceipt.objects.exclude(next_attempt_at=None).update(next_attempt_at=timezone.now())
    for receipt in SettlementReceipt.objects.all():
        settlement_receipt_process(receipt_id=receipt.pk)


def test_an_early_duplicate_wake_up_does_nothing(delivered, fake):
    _process_all()  # sent; the next check is a few seconds away
    SettlementReceipt.objects.update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    calls = len(fake.requests)
    for receipt in SettlementReceipt.objects.all():
        settlement_receipt_process(receipt_id=receipt.pk)
    assert len(fake.requests) == calls
    assert set(SettlementReceipt.objects.values_list("attempts", flat=True)) == {1}


def test_each_operation_settled_once_with_its_own_offset(delivered, fake):
    account, deal = delivered
    fake.receipt_pending_polls = 1
    _process_all()
    assert set(SettlementReceipt.objects.values_list("status", flat=True)) == {"sent"}
    _process_all()  # Code 1: awaiting registration
    assert set(SettlementReceipt.objects.values_list("status", flat=True)) == {"sent"}
    _process_all()
    receipts = list(SettlementReceipt.objects.order_by("amount"))
    assert [r.status for r in receipts] == ["registered", "registered"]
    assert all(r.fiscal["FnNumber"] and r.registered_at for r in receipts)
    sent = fake.settlement_receipts(account.merchant_login)
    assert sorted((p["originId"], p["total"]) for p in sent) == sorted(
        (str(p.invoice_id), p.amount) for p in Payment.objects.all()
    )
    _process_all()  # registered receipts are never sent again
    assert len(fake.settlement_receipts(account.merchant_login)) == 2


def test_provider_down_backs_off_then_asks_before_resending(delivered, fake):
    fake.receipt_attach_http_status = 503
    _process_all()
    receipt = SettlementReceipt.objects.order_by("amount").first()
    assert receipt.status == SettlementReceiptStatus.QUEUED
    assert receipt.attempts == 1 and receipt.next_attempt_at > timezone.now()
    assert "повторим" in receipt.error
    fake.receipt_attach_http_status = None
    _process_all()
    receipt.refresh_from_db()
    assert receipt.status == SettlementReceiptStatus.SENT and receipt.error == ""
    paths = [r.path for r in fake.requests if r.path.startswith("/RoboFiscal")]
    assert "/RoboFiscal/Receipt/Status" in paths  # asked before the second Attach


def test_registration_error_is_kept_with_its_reason(delivered, fake):
    fake.receipt_registration_error = "Ошибка ФН"
    _process_all()
    _process_all()
    receipt = SettlementReceipt.objects.first()
    assert receipt.status == SettlementReceiptStatus.FAILED
    assert receipt.error == "Ошибка ФН" and receipt.next_attempt_at is None


def test_receipt_without_buyer_contact_waits_without_a_call(delivered, fake):
    # No CRM connected and no e-mail anywhere: nowhere to send it (tests/payments/
    # test_settlement_contacts.py covers the lead's contact).
    Payment.objects.update(buyer_email="", buyer_phone="")
    SettlementReceipt.objects.update(email="", phone="")
    _process_all()
    assert set(SettlementReceipt.objects.values_list("status", flat=True)) == {"queued"}
    receipt = SettlementReceipt.objects.first()
    assert receipt.waiting_for_contact and "e-mail" in receipt.error
    assert not [r for r in fake.requests if r.path.startswith("/RoboFiscal")]


def test_sweeper_requeues_overdue_receipts_only(delivered, fake, monkeypatch):
    queued = []
    monkeypatch.setattr(
        "franchise_platform.payments.tasks.settlement_receipt_task.delay", queued.append
    )
    first, second = SettlementReceipt.objects.order_by("amount")
    SettlementReceipt.objects.filter(pk=first.pk).update(
        next_attempt_at=timezone.now() - timedelta(hours=1)
    )
    SettlementReceipt.objects.filter(pk=second.pk).update(
        next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    assert settlement_receipts_requeue() == 1
    assert queued == [first.pk]


def test_delivery_is_idempotent(delivered):
    _, deal = delivered
    deal.refresh_from_db()
    moment = deal.delivered_at
    again, created = deal_deliver(deal_id=deal.pk, source=DeliverySource.PANEL)
    assert created == [] and again.delivered_at == moment
    assert again.delivered_source == DeliverySource.CRM_STAGE
    assert SettlementReceipt.objects.count() == 2


def test_delivery_in_the_future_is_refused(delivered):
    _, deal = delivered
    with pytest.raises(ValueError):
        deal_deliver(
            deal_id=deal.pk,
            source=DeliverySource.API,
            delivered_at=timezone.now() + timedelta(days=1),
        )


def test_payment_without_email_is_settled_to_the_deals_buyer(delivered):
    first, second = Payment.objects.order_by("paid_at")
    SettlementReceipt.objects.all().delete()
    Payment.objects.filter(pk=second.pk).update(buyer_email="")  # recorded by reconciliation
    _, deal = delivered
    settlement_receipts_queue(deal=deal)
    assert set(SettlementReceipt.objects.values_list("email", flat=True)) == {first.buyer_email}


def test_unregistered_for_a_day_while_status_fails_to_answer_is_failed(delivered, fake):
    _process_all()  # sent
    SettlementReceipt.objects.update(sent_at=timezone.now() - timedelta(hours=25))
    fake.receipt_status_http_status = 503
    _process_all()
    receipt = SettlementReceipt.objects.first()
    assert receipt.status == SettlementReceiptStatus.FAILED
    assert "за сутки" in receipt.error


def test_a_failed_receipt_raises_the_settlement_failed_stage_event(delivered, fake, monkeypatch):
    from franchise_platform.flows import settlement

    raised = []
    monkeypatch.setattr(
        settlement,
        "lead_stage_event_queue",
        lambda *, deal, event, **_: raised.append((deal.pk, str(event))),
    )
    account, deal = delivered
    fake.receipt_registration_error = "Ошибка ФН"
    _process_all()
    _process_all()
    assert set(raised) == {(deal.pk, "settlement_failed")}
