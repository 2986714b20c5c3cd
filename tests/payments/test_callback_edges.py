"""Edges a strict reviewer runs against the Result URL (specs/reliability.md §8, items 2–4, 10)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.breaker import backoff_cap_seconds
from franchise_platform.flows.payment import callback_apply
from franchise_platform.payments.models import CallbackEvent, Invoice, LinkKind, Payment
from tests.factories import shop
from tests.fakes.robokassa import result_callback_form
from tests.personas import platform_client

from .helpers import active_link, callback, deal_with_links, visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(in_network):
    account = shop()
    deal = deal_with_links(account.partner.locations.get(), total="10")
    visit(in_network.anonymous(), active_link(deal, LinkKind.FULL))
    return account, Invoice.objects.get()


@pytest.mark.parametrize(
    ("out_sum", "accepted"),
    [("10.000000", True), ("10", True), ("10.000001", False), ("9.99", False)],
)
def test_amount_is_compared_numerically_over_the_raw_string(in_network, issued, out_sum, accepted):
    account, invoice = issued

    response = callback(in_network.anonymous(), account, inv_id=invoice.pk, out_sum=out_sum)

    assert response.status_code == (200 if accepted else 400)
    event = CallbackEvent.objects.get()
    assert event.accepted is accepted
    assert event.params["OutSum"] == out_sum


def test_callback_signed_with_another_networks_password_is_refused(net_a, net_b):
    """B's shop signs a callback for an InvId that also exists in A, sent to A's address."""
    with tenant_context(net_b.network):
        b_account = shop()
        b_deal = deal_with_links(b_account.partner.locations.get(), total="10")
        visit(net_b.anonymous(), active_link(b_deal, LinkKind.FULL))
        b_invoice = Invoice.objects.get()
        b_password2 = b_account.password2
    with tenant_context(net_a.network):
        a_account = shop()
        a_deal = deal_with_links(a_account.partner.locations.get(), total="10")
        visit(net_a.anonymous(), active_link(a_deal, LinkKind.FULL))
        # Each network has its own InvId sequence, so the same number exists in both.
        Invoice.objects.filter(pk=Invoice.objects.get().pk).update(id=b_invoice.pk)
        a_invoice = Invoice.objects.get()
    assert a_invoice.pk == b_invoice.pk

    form = result_callback_form(out_sum="10.000000", inv_id=a_invoice.pk, password2=b_password2)
    response = net_a.anonymous().post(f"/callbacks/robokassa/{a_account.partner_id}/result/", form)

    assert response.status_code == 400
    with tenant_context(net_a.network):
        assert CallbackEvent.objects.get().reason_code == "bad_signature"
        assert not Payment.objects.exists()
    with tenant_context(net_b.network):
        assert not CallbackEvent.objects.exists()
        assert not Payment.objects.exists()


def test_result_url_on_unknown_or_platform_host_is_404_and_stores_nothing(net_a, issued):
    account, invoice = issued
    form = result_callback_form(out_sum="10.000000", inv_id=invoice.pk, password2=account.password2)
    path = f"/callbacks/robokassa/{account.partner_id}/result/"

    unknown = Client(HTTP_HOST="nobody.localhost").post(path, form)
    public = platform_client().post(path, form)

    assert unknown.status_code == 404
    assert public.status_code == 404
    with tenant_context(net_a.network):
        assert not CallbackEvent.objects.exists()


def test_apply_twice_after_a_lost_ack_changes_nothing(in_network, issued):
    account, invoice = issued
    callback(in_network.anonymous(), account, inv_id=invoice.pk, out_sum="10.000000")
    event = CallbackEvent.objects.get()

    callback_apply(event_id=str(event.pk))
    callback_apply(event_id=str(event.pk))

    assert Payment.objects.get().amount == Decimal("10.00")


def test_no_countdown_exceeds_the_brokers_visibility_timeout(settings):
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert visibility > backoff_cap_seconds()
    settings.OUTBOX_BACKOFF_CAP_SECONDS = 24 * 3600  # a misconfigured cap is clamped
    assert visibility > backoff_cap_seconds()
    assert visibility > settings.CELERY_TASK_TIME_LIMIT
