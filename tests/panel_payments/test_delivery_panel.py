"""«Услуга оказана» on a deal's page (owners and admins), the deal's timeline with the delivery
and its settlement receipts, and /panel/payments/receipts/: the receipts needing a look."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from franchise_platform.payments.models import (
    Deal,
    SettlementReceipt,
    SettlementReceiptStatus,
)
from tests.factories import shop
from tests.payments.helpers import deal_with_links
from tests.payments.test_fiscal_table import _pay

pytestmark = pytest.mark.django_db


@pytest.fixture
def prepaid(in_network):
    account = shop(fiscalization=True)
    deal = deal_with_links(account.partner.locations.get(), lead=7601)
    _pay(in_network.anonymous(), account, deal, "prepayment")
    return deal


def test_owner_marks_the_service_delivered_once(in_network, owner, prepaid):
    page = owner.get(f"/panel/deals/{prepaid.pk}/").content.decode()
    assert 'id="deal-delivered"' in page

    response = owner.post(f"/panel/deals/{prepaid.pk}/delivered/", follow=True)
    body = response.content.decode()
    assert "Итоговых чеков к отправке: 1" in body
    assert 'id="delivered"' in body and 'id="deal-delivered"' not in body
    assert "Итоговый чек по счёту" in body and "отмечено в панели" in body
    deal = Deal.objects.get(pk=prepaid.pk)
    assert deal.delivered_source == "panel"

    again = owner.post(f"/panel/deals/{prepaid.pk}/delivered/", follow=True)
    assert "Услуга уже отмечена оказанной." in again.content.decode()
    assert SettlementReceipt.objects.count() == 1
    assert Deal.objects.get(pk=prepaid.pk).delivered_at == deal.delivered_at


def test_viewer_sees_no_button_and_may_not_deliver(in_network, prepaid):
    viewer = in_network.viewer.browser_client()
    assert 'id="deal-delivered"' not in viewer.get(f"/panel/deals/{prepaid.pk}/").content.decode()
    assert viewer.post(f"/panel/deals/{prepaid.pk}/delivered/").status_code == 403
    assert Deal.objects.get(pk=prepaid.pk).delivered_at is None
    assert not SettlementReceipt.objects.exists()


def test_receipts_needing_attention_are_listed_for_every_reader(in_network, owner, prepaid):
    owner.post(f"/panel/deals/{prepaid.pk}/delivered/")
    receipt = SettlementReceipt.objects.get()
    empty = owner.get("/panel/payments/receipts/").content.decode()
    assert "Всё в порядке" in empty  # queued a moment ago: not stuck yet

    SettlementReceipt.objects.filter(pk=receipt.pk).update(
        status=SettlementReceiptStatus.FAILED, error="Ошибка ФН"
    )
    viewer = in_network.viewer.browser_client()
    listed = viewer.get("/panel/payments/receipts/")
    assert listed.status_code == 200
    assert (
        "Ошибка ФН" in listed.content.decode() and 'data-status="failed"' in listed.content.decode()
    )

    SettlementReceipt.objects.filter(pk=receipt.pk).update(
        status=SettlementReceiptStatus.SENT,
        error="",
        created_at=timezone.now() - timedelta(hours=2),
    )
    assert 'data-status="sent"' in viewer.get("/panel/payments/receipts/").content.decode()
    SettlementReceipt.objects.filter(pk=receipt.pk).update(
        status=SettlementReceiptStatus.REGISTERED
    )
    assert "Всё в порядке" in viewer.get("/panel/payments/receipts/").content.decode()
    assert 'id="receipts-attention"' in viewer.get("/panel/payments/").content.decode()


def test_receipts_page_needs_a_sign_in(in_network):
    anonymous = in_network.owner.browser_client(logged_in=False)
    assert anonymous.get("/panel/payments/receipts/").status_code == 302
