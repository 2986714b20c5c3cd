"""Suspending a network from the console: its panel turns read-only with a banner, the widget
answers 403, /pay/ says payment is unavailable, and a provider callback is still verified,
recorded and applied. Resuming undoes it. Both are in the operators' audit log."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context, tenant_context

from franchise_platform.flows.payment import callback_apply
from franchise_platform.network.models import Partner
from franchise_platform.payments.models import CallbackEvent, Invoice, LinkKind, Payment
from franchise_platform.security.models import AuditEntry
from tenants.models import CrmAccountBinding, Network
from tests.factories import shop
from tests.payments.helpers import active_link, callback, deal_with_links, visit
from tests.personas import platform_client

pytestmark = pytest.mark.django_db


def _entries(net, action):
    """This network's entries: the browser suite commits entries about its own networks."""
    return AuditEntry.objects.filter(
        action=action, object_type="Network", object_id=str(net.network.pk)
    )


def _suspend(console, slug="alpha", reason="Не оплачен тариф"):
    return console.post(f"/operator/networks/{slug}/suspend/", {"reason": reason})


def test_suspend_is_audited_and_shown(console, operator, net_a):
    response = _suspend(console)

    assert response.status_code == 302
    assert Network.objects.get(slug="alpha").is_suspended
    entry = _entries(net_a, "network.suspend").get()
    assert entry.actor == f"{operator.email} (operator)"
    assert entry.changes["status"] == ["active", "suspended"]
    assert entry.changes["reason"] == [None, "Не оплачен тариф"]
    html = console.get("/operator/networks/alpha/").content.decode()
    assert "Возобновить работу" in html and "Не оплачен тариф" in html


def test_suspended_panel_is_read_only_with_a_banner(console, net_a, owner_a):
    _suspend(console)
    client = owner_a.browser_client()

    home = client.get("/panel/").content.decode()
    refused = client.post("/panel/partners/new/", {"name": "x"})

    assert "Сеть приостановлена" in home
    assert refused.status_code == 403
    with tenant_context(net_a.network):
        assert not Partner.objects.exists()


def test_suspended_network_widget_answers_403(console, net_a, amo_server):
    account_id = amo_server.add_account()
    CrmAccountBinding.objects.create(account_id=account_id, network=net_a.network, state="bound")
    _suspend(console)
    token = amo_server.make_widget_token(account_id, aud="http://localhost:8000")

    response = platform_client().get("/api/widget/v1/leads/7001/links", HTTP_X_AUTH_TOKEN=token)

    assert response.status_code == 403
    assert response.json()["code"] == "network_suspended"


def test_pay_links_say_unavailable_but_callbacks_are_recorded_and_applied(console, net_a):
    with tenant_context(net_a.network):
        account = shop()
        deal = deal_with_links(account.partner.locations.get())
        link = active_link(deal, LinkKind.PREPAYMENT)
        visit(net_a.anonymous(), link)  # the customer got the payment page before the suspension
        invoice = Invoice.objects.get()

    _suspend(console)

    page = net_a.anonymous().get(f"/pay/{link.token}")
    assert page.status_code == 503
    assert "Оплата временно недоступна" in page.content.decode()
    with tenant_context(net_a.network):
        answer = callback(
            net_a.anonymous(), account, inv_id=invoice.pk, out_sum=str(invoice.amount)
        )
        assert answer.status_code == 200 and answer.content.decode() == f"OK{invoice.pk}"
        event = CallbackEvent.objects.get()
        assert event.accepted
        callback_apply(event_id=str(event.pk))
        payment = Payment.objects.get()
        assert payment.amount == invoice.amount
        deal.refresh_from_db()
        assert deal.paid == invoice.amount


def test_resume_brings_everything_back(console, net_a, owner_a):
    _suspend(console)

    console.post("/operator/networks/alpha/resume/")

    assert not Network.objects.get(slug="alpha").is_suspended
    assert "Сеть приостановлена" not in owner_a.browser_client().get("/panel/").content.decode()
    with schema_context("public"):
        assert _entries(net_a, "network.resume").count() == 1


def test_only_operators_can_suspend(net_a, owner_a):
    anonymous = platform_client().post("/operator/networks/alpha/suspend/")
    assert anonymous.status_code == 302
    assert not Network.objects.get(slug="alpha").is_suspended


def test_suspending_twice_changes_nothing_more(console, net_a):
    _suspend(console)
    _suspend(console)
    assert _entries(net_a, "network.suspend").count() == 1


def test_a_suspended_network_cannot_issue_the_test_invoice_through_the_api(console, net_a):
    with tenant_context(net_a.network):
        partner_id = shop().partner_id
    _suspend(console)

    response = net_a.owner.api().post(f"/api/v1/partners/{partner_id}/test-invoice")

    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "network_suspended"
    assert body["detail"] == "Сеть приостановлена: тестовый счёт выставить нельзя."
    with tenant_context(net_a.network):
        assert not Invoice.objects.exists()


def test_a_suspended_network_cannot_issue_the_test_invoice_from_the_panel(console, net_a, owner_a):
    with tenant_context(net_a.network):
        partner_id = shop().partner_id
    _suspend(console)
    client = owner_a.browser_client()

    response = client.post(f"/panel/partners/{partner_id}/shop-check/")
    page = client.get(f"/panel/partners/{partner_id}/").content.decode()

    assert response.status_code == 403
    assert "Сеть приостановлена" in response.content.decode()
    assert "/shop-check/" not in page  # no button to press
    with tenant_context(net_a.network):
        assert not Invoice.objects.exists()


def test_the_test_invoice_works_again_after_resuming(console, net_a):
    with tenant_context(net_a.network):
        partner_id = shop().partner_id
    _suspend(console)
    console.post("/operator/networks/alpha/resume/")

    response = net_a.owner.api().post(f"/api/v1/partners/{partner_id}/test-invoice")

    assert response.status_code == 201, response.content
    assert response.json()["is_test"] is True
