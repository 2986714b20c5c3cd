"""The buyer's contact for a settlement receipt (fiscal.md §7): the notification's e-mail
first, else the lead's main contact (read through the CRM connector), else the receipt waits,
listed for a person, asking the lead again until a contact appears (a week at most)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from crm_connectors.base import BuyerContact
from crm_connectors.dummy.connector import DummyCrmConnector
from franchise_platform.crm_sync.contacts import payment_contact_fill, phone_clean
from franchise_platform.crm_sync.models import CrmConnection
from franchise_platform.flows.button import deal_links_ensure
from franchise_platform.flows.settlement import settlement_receipt_process
from franchise_platform.payments.delivery import DeliverySource, deal_deliver
from franchise_platform.payments.links import LeadFacts
from franchise_platform.payments.models import Payment, SettlementReceipt, SettlementReceiptStatus
from franchise_platform.payments.selectors import settlement_receipts_attention
from tests.factories import shop
from tests.fakes.robokassa import FakeRobokassa

from .test_fiscal_table import _pay

pytestmark = pytest.mark.django_db

ACCOUNT_ID = 31_000_001
LEAD = 7501


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
def crm(in_network):
    """A connected (dummy) CRM whose lead LEAD exists, without a contact yet."""
    CrmConnection.objects.create(
        crm="dummy", account_id=ACCOUNT_ID, base_url="https://chezaquest.amocrm.ru"
    )
    connector = DummyCrmConnector(account_id=ACCOUNT_ID)
    connector.seed_lead(LEAD, title="Квест", price=Decimal("5000"))
    return connector


@pytest.fixture
def prepaid(in_network, fake, crm):
    """A 5000 deal of that lead, prepaid 1500; the payment was recorded without an e-mail (as
    reconciliation records it)."""
    account = shop(fiscalization=True, partner__tax_system="osn", partner__vat="vat22")
    fake.register_shop(account.merchant_login, account.password1, account.password2)
    deal = deal_links_ensure(
        facts=LeadFacts(
            crm="dummy",
            crm_deal_id=LEAD,
            title="Квест",
            total=Decimal("5000"),
            location_id=str(account.partner.locations.get().pk),
        )
    )
    invoice = _pay(in_network.anonymous(), account, deal, "prepayment")
    fake.add_history(account.merchant_login, invoice.pk, invoice.amount)
    Payment.objects.update(buyer_email="")
    return account, deal


def _process_all():
    SettlementReceipt.objects.exclude(next_attempt_at=None).update(next_attempt_at=timezone.now())
    for receipt in SettlementReceipt.objects.all():
        settlement_receipt_process(receipt_id=receipt.pk)


def _attach_calls(fake):
    return [r for r in fake.requests if r.path == "/RoboFiscal/Receipt/Attach"]


def test_receipt_goes_to_the_leads_contact_when_the_payment_has_none(prepaid, fake, crm):
    account, deal = prepaid
    crm.lead(LEAD).contact = BuyerContact(email=None, phone="8 (917) 123-45-67")
    deal_deliver(deal_id=deal.pk, source=DeliverySource.PANEL)
    _process_all()
    receipt = SettlementReceipt.objects.get()
    assert receipt.status == SettlementReceiptStatus.SENT
    assert (receipt.email, receipt.phone) == ("", "79171234567")
    (sent,) = fake.settlement_receipts(account.merchant_login)
    assert sent["client"] == {"phone": "79171234567"}
    # Kept on the payment too, for its later receipts (a refund's, another settlement's).
    assert Payment.objects.get().buyer_phone == "79171234567"


def test_the_notifications_email_wins_over_the_leads_contact(prepaid, fake, crm):
    account, deal = prepaid
    Payment.objects.update(buyer_email="paid@example.com")
    crm.lead(LEAD).contact = BuyerContact(email="crm@example.com", phone="+79170000000")
    deal_deliver(deal_id=deal.pk, source=DeliverySource.PANEL)
    _process_all()
    (sent,) = fake.settlement_receipts(account.merchant_login)
    assert sent["client"] == {"email": "paid@example.com"}
    assert Payment.objects.get().buyer_phone == ""


def test_without_any_contact_the_receipt_waits_listed_then_goes_once_one_appears(
    prepaid, fake, crm
):
    account, deal = prepaid
    deal_deliver(deal_id=deal.pk, source=DeliverySource.PANEL)
    _process_all()
    receipt = SettlementReceipt.objects.get()
    assert receipt.status == SettlementReceiptStatus.QUEUED and receipt.waiting_for_contact
    assert "Добавьте в сделку amoCRM контакт" in receipt.error
    assert receipt.next_attempt_at > timezone.now() + timedelta(minutes=5)
    assert receipt.attempts == 0 and not _attach_calls(fake)
    assert list(settlement_receipts_attention()) == [receipt]

    crm.lead(LEAD).contact = BuyerContact(email="later@example.com")  # a manager adds it
    _process_all()
    receipt.refresh_from_db()
    assert receipt.status == SettlementReceiptStatus.SENT
    assert not receipt.waiting_for_contact and receipt.error == ""
    assert receipt.email == "later@example.com"
    assert len(_attach_calls(fake)) == 1
    assert list(settlement_receipts_attention()) == []


def test_a_receipt_waiting_for_a_week_fails_with_its_reason(prepaid, fake, monkeypatch):
    from franchise_platform.flows import settlement

    raised = []
    monkeypatch.setattr(
        settlement, "lead_stage_event_queue", lambda *, deal, event, **_: raised.append(event)
    )
    account, deal = prepaid
    deal_deliver(deal_id=deal.pk, source=DeliverySource.PANEL)
    SettlementReceipt.objects.update(created_at=timezone.now() - timedelta(days=8))
    _process_all()
    receipt = SettlementReceipt.objects.get()
    assert receipt.status == SettlementReceiptStatus.FAILED and not receipt.waiting_for_contact
    assert "e-mail или телефона" in receipt.error
    assert raised == ["settlement_failed"] and not _attach_calls(fake)


def test_a_payment_without_email_is_given_the_leads_contact_after_its_commit(
    in_network, fake, crm, monkeypatch, django_capture_on_commit_callbacks
):
    from franchise_platform.crm_sync import tasks

    queued = []
    monkeypatch.setattr(tasks.payment_contact_fill, "delay", queued.append)
    account = shop(fiscalization=True)
    fake.register_shop(account.merchant_login, account.password1, account.password2)
    deal = deal_links_ensure(
        facts=LeadFacts(
            crm="dummy",
            crm_deal_id=LEAD,
            title="Квест",
            total=Decimal("5000"),
            location_id=str(account.partner.locations.get().pk),
        )
    )
    from django.db import transaction

    from franchise_platform.flows.payment import payment_crm_changes_queue
    from franchise_platform.payments.callbacks import payment_record
    from franchise_platform.payments.models import Invoice, PaymentSource

    client = in_network.anonymous()
    assert client.get(f"/pay/{deal.links.get(kind='prepayment').token}").status_code == 302
    invoice = Invoice.objects.get()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        recorded = payment_record(
            invoice=invoice, source=PaymentSource.RECONCILIATION, paid_at=timezone.now()
        )
        assert recorded is not None
        payment_crm_changes_queue(recorded)
    payment = recorded.payment
    assert queued == [str(payment.pk)]

    crm.lead(LEAD).contact = BuyerContact(email=" Buyer@Example.com ", phone="12")
    assert payment_contact_fill(payment_id=payment.pk)
    payment.refresh_from_db()
    assert (payment.buyer_email, payment.buyer_phone) == ("Buyer@Example.com", "")
    crm.lead(LEAD).contact = BuyerContact(email="other@example.com")
    assert payment_contact_fill(payment_id=payment.pk)  # it has one: never replaced
    payment.refresh_from_db()
    assert payment.buyer_email == "Buyer@Example.com"


def test_a_payment_with_the_notifications_email_queues_no_crm_read(
    in_network, fake, crm, monkeypatch, django_capture_on_commit_callbacks
):
    from franchise_platform.crm_sync import tasks

    queued = []
    monkeypatch.setattr(tasks.payment_contact_fill, "delay", queued.append)
    account = shop(fiscalization=True)
    fake.register_shop(account.merchant_login, account.password1, account.password2)
    deal = deal_links_ensure(
        facts=LeadFacts(
            crm="dummy",
            crm_deal_id=LEAD,
            title="Квест",
            total=Decimal("5000"),
            location_id=str(account.partner.locations.get().pk),
        )
    )
    from franchise_platform.payments import tasks as payment_tasks

    monkeypatch.setattr(payment_tasks.callback_apply_task, "delay", lambda *a: None)
    monkeypatch.setattr(tasks.outbox_send, "delay", lambda *a: None)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _pay(in_network.anonymous(), account, deal, "prepayment")
    assert callbacks  # the commit hooks ran (the outbox's wake-ups among them)
    assert Payment.objects.get().buyer_email  # EMail came with the notification
    assert queued == []


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("+7 (917) 123-45-67", "79171234567"),
        ("8 917 123 45 67", "79171234567"),
        ("9171234567", "79171234567"),
        ("+49 30 1234 5678", "493012345678"),
        ("123", ""),
        ("٧٩١٧١٢٣٤٥٦٧", ""),  # non-ASCII digits are not a phone for the receipt
        (None, ""),
    ],
)
def test_phone_is_normalised_for_the_receipt(raw, clean):
    assert phone_clean(raw) == clean
