"""A flood of forged notifications must not grow the callback inbox without bound: each shop keeps
a bounded number of refused ones per hour (and so do, together, the addresses naming no shop); the
rest are still answered 400 and only counted."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from franchise_platform.payments.models import CallbackEvent, LinkKind
from tests.factories import shop

from .helpers import active_link, callback, deal_with_links, visit

pytestmark = pytest.mark.django_db

CAP = 3


@pytest.fixture(autouse=True)
def _small_cap(settings):
    settings.CALLBACK_REFUSED_KEPT_PER_HOUR = CAP


def _not_kept(reason: str = "bad_signature") -> float:
    labels = {"network": "alpha", "provider": "robokassa", "reason": reason}
    return REGISTRY.get_sample_value("fp_provider_callbacks_refused_not_kept_total", labels) or 0.0


def _forge(client, partner_id, inv_id, n: int) -> list[int]:
    form = {"OutSum": "1500.000000", "InvId": str(inv_id), "SignatureValue": "AB" * 16}
    return [
        client.post(f"/callbacks/robokassa/{partner_id}/result/", form).status_code
        for _ in range(n)
    ]


@pytest.fixture
def issued(in_network):
    account = shop()
    deal = deal_with_links(account.partner.locations.get())
    visit(in_network.anonymous(), active_link(deal, LinkKind.PREPAYMENT))
    return account, deal.invoices.get()


def test_a_flood_of_forged_callbacks_keeps_only_the_cap_and_counts_the_rest(in_network, issued):
    account, invoice = issued
    before = _not_kept()

    statuses = _forge(in_network.anonymous(), account.partner_id, invoice.pk, CAP + 7)

    assert statuses == [400] * (CAP + 7)
    assert CallbackEvent.objects.filter(partner=account.partner).count() == CAP
    assert _not_kept() - before == 7


def test_each_shop_has_its_own_share(in_network, issued):
    account, invoice = issued
    other = shop(merchant_login="other-shop")
    client = in_network.anonymous()

    _forge(client, account.partner_id, invoice.pk, CAP + 2)
    _forge(client, other.partner_id, invoice.pk, 1)

    assert CallbackEvent.objects.filter(partner=other.partner).count() == 1


def test_addresses_naming_no_shop_share_one_cap(in_network, issued):
    _, invoice = issued
    client = in_network.anonymous()

    for _ in range(CAP + 5):  # a new made-up partner id every time
        _forge(client, uuid.uuid4(), invoice.pk, 1)

    assert CallbackEvent.objects.filter(partner__isnull=True).count() == CAP


def test_the_share_frees_up_after_an_hour(in_network, issued):
    account, invoice = issued
    client = in_network.anonymous()
    _forge(client, account.partner_id, invoice.pk, CAP)
    CallbackEvent.objects.update(received_at=timezone.now() - timedelta(hours=1, minutes=1))

    _forge(client, account.partner_id, invoice.pk, 1)

    assert CallbackEvent.objects.filter(partner=account.partner).count() == CAP + 1


def test_a_genuine_notification_is_stored_and_answered_after_a_flood(in_network, issued):
    account, invoice = issued
    client = in_network.anonymous()
    _forge(client, account.partner_id, invoice.pk, CAP + 3)

    response = callback(client, account, inv_id=invoice.pk, out_sum="1500.000000")

    assert response.status_code == 200 and response.content.decode() == f"OK{invoice.pk}"
    assert CallbackEvent.objects.filter(accepted=True, invoice_number=invoice.pk).count() == 1
