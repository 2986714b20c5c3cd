"""«Проверить магазин» on the partner page, end to end in-process: a test-mode invoice, its
Robokassa test page link, a signed TEST notification to the Result URL, applied once, and the page
says «Магазин подключён»; a notification signed with a wrong password shows the problem instead."""

from __future__ import annotations

from decimal import Decimal
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from franchise_platform.flows.payment import callback_apply
from franchise_platform.network.models import Partner
from franchise_platform.payments.models import (
    CallbackEvent,
    CallbackStatus,
    Invoice,
    InvoicePurpose,
)
from tests.factories import shop
from tests.network.conftest import make_partner
from tests.payments.helpers import callback

from .conftest import apply_pending

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(in_network):
    return shop(merchant_login="chq-kazan-1")


def _check(client, partner_id):
    return client.post(f"/panel/partners/{partner_id}/shop-check/", follow=True)


def test_a_test_callback_after_the_check_shows_the_shop_connected(in_network, owner, account):
    partner = account.partner
    before = owner.get(f"/panel/partners/{partner.pk}/").content.decode()
    assert "Проверить магазин" in before and 'data-shop="unchecked"' in before

    issued = _check(owner, partner.pk)

    invoice = Invoice.objects.get(purpose=InvoicePurpose.SHOP_CHECK)
    assert (invoice.is_test, invoice.amount, invoice.deal_id) == (True, Decimal("10.00"), None)
    target = urlsplit(invoice.payment_url)
    assert invoice.payment_url.startswith(settings.ROBOKASSA_PAYMENT_URL)
    query = parse_qs(target.query)
    assert query["IsTest"] == ["1"] and query["MerchantLogin"] == ["chq-kazan-1"]
    assert query["InvId"] == [str(invoice.pk)]
    page = unescape(issued.content.decode())
    assert "Тестовый счёт выставлен" in page
    assert f'href="{invoice.payment_url}"' in page and "Открыть тестовую оплату" in page

    answer = callback(
        in_network.anonymous(), account, inv_id=invoice.pk, out_sum="10.000000", is_test=True
    )
    assert (answer.status_code, answer.content.decode()) == (200, f"OK{invoice.pk}")
    event = CallbackEvent.objects.get(status=CallbackStatus.PENDING)
    callback_apply(event_id=str(event.pk))

    partner.refresh_from_db()
    assert partner.shop_checked_at is not None and partner.shop_check_error == ""
    after = owner.get(f"/panel/partners/{partner.pk}/").content.decode()
    listing = owner.get("/panel/partners/").content.decode()
    assert "Магазин подключён" in after and 'id="shop-check-ok"' in after
    assert timezone.localtime(partner.shop_checked_at).strftime("%d.%m.%Y") in after
    assert "Открыть тестовую оплату" not in after  # the check invoice is paid
    assert "Проверить ещё раз" in after
    assert 'data-shop="ok"' in listing and "магазин подключён" in listing


def test_a_callback_signed_with_a_wrong_password_shows_the_problem(in_network, owner, account):
    partner = account.partner
    _check(owner, partner.pk)
    invoice = Invoice.objects.get(purpose=InvoicePurpose.SHOP_CHECK)

    answer = callback(
        in_network.anonymous(),
        account,
        inv_id=invoice.pk,
        out_sum="10.000000",
        is_test=True,
        password2="not-the-test-password",
    )
    apply_pending()

    assert answer.status_code == 400
    partner.refresh_from_db()
    assert partner.shop_checked_at is None
    page = owner.get(f"/panel/partners/{partner.pk}/").content.decode()
    listing = owner.get("/panel/partners/").content.decode()
    assert 'id="shop-check-error"' in page
    assert "Последняя проверка не прошла." in page
    assert "Подпись уведомления не сходится" in page and "Пароль #2" in page
    assert "Магазин подключён" not in page
    assert 'data-shop="error"' in listing and "ошибка проверки" in listing


def test_a_good_check_after_a_bad_one_clears_the_problem(in_network, owner, account):
    partner = account.partner
    _check(owner, partner.pk)
    invoice = Invoice.objects.get(purpose=InvoicePurpose.SHOP_CHECK)
    anon = in_network.anonymous()
    callback(anon, account, inv_id=invoice.pk, out_sum="10.00", is_test=True, password2="x")
    callback(anon, account, inv_id=invoice.pk, out_sum="10.00", is_test=True)
    apply_pending()

    page = owner.get(f"/panel/partners/{partner.pk}/").content.decode()

    assert "Магазин подключён" in page and 'id="shop-check-error"' not in page


def test_without_test_passwords_the_owner_is_told_what_is_missing(in_network, owner):
    partner = make_partner(in_network.network, name="ООО «Без тестовых паролей»")

    page = _check(owner, partner.pk).content.decode()

    assert "для проверки нужны тестовые пароли #1 и #2" in page
    assert not Invoice.objects.exists()  # the refused attempt left no row behind
    assert Partner.objects.get(pk=partner.pk).shop_check_error == ""


def test_viewer_cannot_check_and_sees_no_button(in_network, account):
    viewer = in_network.viewer.browser_client()

    page = viewer.get(f"/panel/partners/{account.partner_id}/").content.decode()
    response = viewer.post(f"/panel/partners/{account.partner_id}/shop-check/")

    assert "Проверить магазин" not in page and 'data-shop="unchecked"' in page
    assert response.status_code == 403
    assert not Invoice.objects.exists()


def test_network_b_cannot_check_a_shop_of_a(in_network, owner_b, account):
    response = owner_b.browser_client().post(f"/panel/partners/{account.partner_id}/shop-check/")

    assert response.status_code == 404
    with tenant_context(in_network.network):
        assert not Invoice.objects.exists()
