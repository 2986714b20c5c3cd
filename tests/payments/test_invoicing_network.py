"""Invoices that need the network (issue 16, item 3): a provider that creates the payment by API
(YooKassa, its strict fake) is called after the invoice and its idempotence key are committed,
outside the deal's and the link's locks; a lost answer or a crash before the answer is stored
makes the next visit repeat the same request, so one invoice never makes two payments."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from billing_providers.errors import ProviderError
from franchise_platform.payments import invoicing
from franchise_platform.payments.invoicing import invoice_for_link
from franchise_platform.payments.models import Invoice, InvoiceStatus, LinkKind
from tests.fakes.yookassa import FakeYooKassa
from tests.panel_payments.conftest import crm_connection

from .helpers import active_link, deal_with_links
from .yookassa_helpers import GatedTransport, yookassa_options, yookassa_shop


def _creates_payment(request) -> bool:
    return request.method == "POST" and request.url.path.endswith("/v3/payments")


def test_a_slow_provider_does_not_block_another_buyer_of_the_same_deal(
    fresh_network, django_db_blocker, settings
):
    """Buyer A's payment creation hangs at YooKassa; buyer B opens the other link of the same
    deal meanwhile and gets the payment page. Under the old flow A held the deal's row lock for
    the whole call and B waited for it."""
    fake = FakeYooKassa()
    gate = GatedTransport(fake, _creates_payment)
    yookassa_options(settings, fake, transport=gate)
    with django_db_blocker.unblock(), tenant_context(fresh_network.network):
        crm_connection()
        deal = deal_with_links(yookassa_shop(fake).partner.locations.get())
        prepayment = active_link(deal, LinkKind.PREPAYMENT).token
        full = active_link(deal, LinkKind.FULL).token

    results: dict[str, object] = {}

    def buyer(name: str, token: str) -> None:
        try:
            with django_db_blocker.unblock(), tenant_context(fresh_network.network):
                results[name] = invoice_for_link(token=token)
        except BaseException as exc:
            results[name] = exc
        finally:
            connection.close()

    slow = threading.Thread(target=buyer, args=("a", prepayment))
    slow.start()
    try:
        assert gate.entered.wait(timeout=20), "buyer A never reached YooKassa"
        other = threading.Thread(target=buyer, args=("b", full))
        other.start()
        other.join(timeout=20)
        finished_while_a_hangs = not other.is_alive()
    finally:
        gate.release.set()
        slow.join(timeout=30)
    assert finished_while_a_hangs, "buyer B waited for buyer A's provider call"
    other.join(timeout=30)
    assert getattr(results["b"], "redirect_to", None), results
    assert getattr(results["a"], "redirect_to", None), results
    assert len(fake.payments) == 2
    with django_db_blocker.unblock(), tenant_context(fresh_network.network):
        invoices = list(Invoice.objects.filter(deal=deal))
        assert len(invoices) == 2
        assert {i.provider_reference for i in invoices} == set(fake.payments)
        assert all(i.payment_url and i.idempotence_key for i in invoices)


@pytest.mark.django_db
def test_a_lost_answer_then_a_second_visit_makes_one_provider_payment(in_network, settings):
    """YooKassa creates the payment but its answer is lost (no repeat left to the client):
    the visit fails; the next visit repeats the stored key and gets the same payment."""
    fake = FakeYooKassa()
    yookassa_options(settings, fake, max_attempts=1)
    deal = deal_with_links(yookassa_shop(fake).partner.locations.get())
    link = active_link(deal, LinkKind.PREPAYMENT)
    fake.fail_next(500, path_prefix="/payments", after=True)

    with pytest.raises(ProviderError):
        invoice_for_link(token=link.token)
    assert len(fake.payments) == 1
    pending = Invoice.objects.get()
    assert pending.payment_url == "" and pending.idempotence_key

    decision = invoice_for_link(token=link.token)

    assert len(fake.payments) == 1
    invoice = Invoice.objects.get()
    assert invoice.pk == pending.pk and invoice.status == InvoiceStatus.ISSUED
    (payment_id,) = fake.payments
    assert invoice.provider_reference == payment_id
    assert decision.redirect_to == invoice.payment_url
    assert payment_id in invoice.payment_url


@pytest.mark.django_db
def test_a_crash_between_the_call_and_the_save_then_a_retry_makes_one_payment(
    in_network, settings, monkeypatch
):
    fake = FakeYooKassa()
    yookassa_options(settings, fake)
    deal = deal_with_links(yookassa_shop(fake).partner.locations.get())
    link = active_link(deal, LinkKind.FULL)
    original = invoicing._issued_store

    def crash(invoice, issued):
        raise RuntimeError("worker killed after YooKassa answered")

    monkeypatch.setattr(invoicing, "_issued_store", crash)
    with pytest.raises(RuntimeError):
        invoice_for_link(token=link.token)
    assert len(fake.payments) == 1
    monkeypatch.setattr(invoicing, "_issued_store", original)

    decision = invoice_for_link(token=link.token)
    again = invoice_for_link(token=link.token)

    assert len(fake.payments) == 1
    invoice = Invoice.objects.get()
    assert invoice.provider_reference in fake.payments
    assert decision.redirect_to == again.redirect_to == invoice.payment_url


@pytest.mark.django_db
def test_a_refused_request_retires_the_pending_number(in_network, settings):
    """A permanent refusal made no payment: the number is withdrawn and the next visit (the
    settings fixed) issues a fresh invoice instead of repeating a refused request."""
    fake = FakeYooKassa()
    yookassa_options(settings, fake)
    account = yookassa_shop(fake)
    deal = deal_with_links(account.partner.locations.get())
    link = active_link(deal, LinkKind.FULL)
    fake.shops[account.merchant_login].secret_key = "another_secret_key"

    with pytest.raises(ProviderError):
        invoice_for_link(token=link.token)
    assert Invoice.objects.get().status == InvoiceStatus.RETIRED
    fake.shops[account.merchant_login].secret_key = account.provider_secrets["secret_key"]

    decision = invoice_for_link(token=link.token)

    assert decision.redirect_to
    assert Invoice.objects.filter(status=InvoiceStatus.ISSUED).count() == 1
    assert len(fake.payments) == 1
