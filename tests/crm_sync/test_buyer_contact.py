"""The buyer's contact read from amoCRM (the strict fake over HTTP) for a payment that came
without an e-mail: the lead's main contact, its phone normalised for the receipt."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.contacts import payment_contact_fill
from franchise_platform.payments.models import Invoice, Payment
from tests.factories import DealFactory, shop

pytestmark = pytest.mark.django_db

LEAD = 8201


def _payment(deal, account) -> Payment:
    invoice = Invoice.objects.create(
        deal=deal,
        provider_account=account,
        provider="robokassa",
        amount=Decimal("1500.00"),
        payment_kind="prepayment",
        payment_url="https://auth.robokassa.ru/Merchant/Index.aspx",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    return Payment.objects.create(
        invoice=invoice,
        deal=deal,
        partner=account.partner,
        amount=invoice.amount,
        kind="prepayment",
        source="reconciliation",
        paid_at=timezone.now(),
    )


def test_a_payment_without_email_gets_the_leads_main_contact_from_amocrm(connected, amo):
    net, account_id, _crm = connected
    amo.set_lead(account_id, LEAD, 5000)
    contact = amo.add_contact(
        account_id, name="Иванов", emails=["ivanov@example.com"], phones=["8 (917) 123-45-67"]
    )
    amo.link_contact(account_id, LEAD, contact)
    with tenant_context(net.network):
        payment = _payment(DealFactory(crm_deal_id=LEAD, total=Decimal("5000")), shop())
        assert payment_contact_fill(payment_id=payment.pk)
        payment.refresh_from_db()
    assert (payment.buyer_email, payment.buyer_phone) == ("ivanov@example.com", "79171234567")
    reads = [
        r.path for r in amo.api_requests(account_id) if r.method == "GET" and "contacts" in r.path
    ]
    assert reads == [f"/api/v4/contacts/{contact}"]


def test_a_lead_without_a_contact_leaves_the_payment_as_it_was(connected, amo):
    net, account_id, _crm = connected
    amo.set_lead(account_id, LEAD, 5000)
    with tenant_context(net.network):
        payment = _payment(DealFactory(crm_deal_id=LEAD, total=Decimal("5000")), shop())
        assert not payment_contact_fill(payment_id=payment.pk)
        payment.refresh_from_db()
    assert (payment.buyer_email, payment.buyer_phone) == ("", "")


def test_amocrm_down_is_no_contact_yet_not_an_error(connected, amo, instant_in_call_retries):
    net, account_id, _crm = connected
    amo.set_lead(account_id, LEAD, 5000)
    amo.fail_next(50, 503)
    with tenant_context(net.network):
        payment = _payment(DealFactory(crm_deal_id=LEAD, total=Decimal("5000")), shop())
        assert not payment_contact_fill(payment_id=payment.pk)
