"""Connecting a partner's shop by the provider's OAuth (issue 16, item 4.3) and the shop check by
the provider's API (item 4.4), with YooKassa's strict fake: the partner page's button → YooKassa's
consent with a signed state → the platform host's callback → the network's panel, where the same
person finishes: the code exchanged, the token sealed, the shop read (GET /me), the webhooks
registered by API at the partner's callback address, a message on the partner page."""

from __future__ import annotations

import json
import re
import time
from html import unescape
from unittest import mock
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from django.conf import settings
from django.core import signing
from django_tenants.utils import tenant_context

from franchise_platform.network.models import Partner, ProviderAccount
from franchise_platform.payments.models import Invoice, InvoiceStatus, LinkKind
from franchise_platform.security.models import AuditEntry
from tests.factories import shop
from tests.fakes.yookassa import FakeYooKassa
from tests.payments.helpers import active_link, deal_with_links, visit
from tests.payments.yookassa_helpers import yookassa_options, yookassa_shop
from tests.personas import platform_client

pytestmark = pytest.mark.django_db

APP_ID, APP_SECRET = "platform-app", "app-secret-7f3a"
CALLBACK = "/integrations/providers/yookassa/oauth/callback/"


@pytest.fixture
def fake(settings):
    fake = FakeYooKassa()
    fake.allow_http_webhooks = True  # the test platform is served over http
    fake.register_app(APP_ID, APP_SECRET, settings.PLATFORM_BASE_URL + CALLBACK)
    yookassa_options(settings, fake, oauth_client_id=APP_ID, oauth_client_secret=APP_SECRET)
    return fake


def _start(browser, partner_id, provider="yookassa"):
    return browser.post(f"/panel/partners/{partner_id}/provider-connect/{provider}/")


def _target(start):
    """Where the start page sends the browser on (a refresh: no redirect after the form)."""
    assert start.status_code == 200, start.content
    found = re.search(r'<a class="button" href="([^"]+)" id="continue">', start.content.decode())
    assert found, start.content
    return unescape(found.group(1))


def _state(start):
    return parse_qs(urlsplit(_target(start)).query)["state"][0]


def _come_back(browser, fake, shop_id, state, *, allow=True):
    """The owner's answer on YooKassa's consent page, followed through the platform host's
    callback into the network's panel (returns the panel's answer)."""
    back = urlsplit(fake.consent(APP_ID, shop_id, state, allow=allow))
    callback = platform_client().get(back.path, dict(parse_qsl(back.query)))
    if callback.status_code != 302:
        return callback
    finish = urlsplit(callback["Location"])
    return browser.get(finish.path, dict(parse_qsl(finish.query)), follow=True)


def _oauth_shop(fake, shop_id="200700", **options):
    fake.register_shop(shop_id, "unused-secret-key", **options)
    return shop_id


def test_the_owner_connects_a_shop_by_oauth_and_the_webhooks_are_registered(net_a, fake):
    with tenant_context(net_a.network):
        account = yookassa_shop(fake, shop_id="100500")
        partner_id = account.partner_id
    shop_id = _oauth_shop(fake, test=True, fiscalization=True)
    browser = net_a.owner.browser_client()
    page = browser.get(f"/panel/partners/{partner_id}/").content.decode()
    assert 'id="provider-connect-yookassa"' in page

    start = _start(browser, partner_id)
    assert _target(start).startswith(fake.oauth_base_url + "/authorize?")
    assert parse_qs(urlsplit(_target(start)).query)["client_id"] == [APP_ID]
    done = _come_back(browser, fake, shop_id, _state(start))

    assert done.status_code == 200
    html = unescape(done.content.decode())
    assert f"Магазин {shop_id} (тестовый) подключён" in html
    with tenant_context(net_a.network):
        stored = ProviderAccount.objects.get(partner_id=partner_id)
        partner = Partner.objects.get(pk=partner_id)
        entry = AuditEntry.objects.filter(action="partner.provider_connect").get()
    token = stored.provider_secrets["oauth_token"]
    assert fake.tokens[token].shop_id == shop_id
    assert set(stored.provider_secrets) == {"oauth_token"}  # the entered key is gone
    assert (stored.provider, stored.merchant_login) == ("yookassa", shop_id)
    assert (stored.test_mode, stored.fiscalization) == (True, True)
    assert partner.shop_checked_at is not None
    notification = (
        f"http://{net_a.host}:{settings.PLATFORM_PORT}/callbacks/yookassa/{partner_id}/notification/"
        if settings.PLATFORM_PORT
        else f"http://{net_a.host}/callbacks/yookassa/{partner_id}/notification/"
    )
    hooks = {(h["event"], h["url"]) for h in fake.webhooks.values() if h["token"] == token}
    assert {event for event, _url in hooks} >= {
        "payment.succeeded",
        "payment.canceled",
        "refund.succeeded",
    }
    assert {url for _event, url in hooks} == {notification}
    # Secrets are never shown, logged in the audit or put into the page.
    assert token not in html and token not in str(entry.changes)


def test_connecting_again_keeps_one_webhook_per_event(net_a, fake):
    with tenant_context(net_a.network):
        partner_id = yookassa_shop(fake).partner_id
    shop_id = _oauth_shop(fake)
    browser = net_a.owner.browser_client()
    _come_back(browser, fake, shop_id, _state(_start(browser, partner_id)))
    _come_back(browser, fake, shop_id, _state(_start(browser, partner_id)))

    with tenant_context(net_a.network):
        token = ProviderAccount.objects.get(partner_id=partner_id).provider_secrets["oauth_token"]
    events = [h["event"] for h in fake.webhooks.values() if h["token"] == token]
    assert sorted(events) == sorted(set(events)) and "payment.succeeded" in events


def test_a_robokassa_partner_moves_to_the_oauth_shop_and_its_open_invoices_are_retired(net_a, fake):
    with tenant_context(net_a.network):
        account = shop()
        deal = deal_with_links(account.partner.locations.get())
        visit(net_a.anonymous(), active_link(deal, LinkKind.FULL))
        partner_id = account.partner_id
    shop_id = _oauth_shop(fake, test=False)
    browser = net_a.owner.browser_client()

    _come_back(browser, fake, shop_id, _state(_start(browser, partner_id)))

    with tenant_context(net_a.network):
        stored = ProviderAccount.objects.get(partner_id=partner_id)
        assert stored.provider == "yookassa" and stored.password1 is None
        assert list(Invoice.objects.values_list("status", flat=True)) == [InvoiceStatus.RETIRED]
        # The buyer's next visit creates a YooKassa payment with the new token.
        response, _ = visit(net_a.anonymous(), active_link(deal, LinkKind.FULL))
    assert response.status_code == 302
    assert response["Location"].startswith(fake.base_url + "/_fake/checkout/")


def test_a_refused_consent_stores_nothing(net_a, fake):
    with tenant_context(net_a.network):
        account = yookassa_shop(fake)
    browser = net_a.owner.browser_client()

    done = _come_back(
        browser, fake, _oauth_shop(fake), _state(_start(browser, account.partner_id)), allow=False
    )

    assert "Доступ к магазину не выдан" in unescape(done.content.decode())
    with tenant_context(net_a.network):
        stored = ProviderAccount.objects.get(pk=account.pk)
    assert stored.provider_secrets == {"secret_key": account.provider_secrets["secret_key"]}
    assert not fake.webhooks


def test_the_state_is_single_use_and_bound_to_the_person_and_browser(net_a, fake):
    with tenant_context(net_a.network):
        partner_id = yookassa_shop(fake).partner_id
    shop_id = _oauth_shop(fake)
    browser = net_a.owner.browser_client()
    state = _state(_start(browser, partner_id))

    other_browser = _come_back(net_a.owner.browser_client(), fake, shop_id, state)
    assert "в другом браузере" in unescape(other_browser.content.decode())
    admin = _come_back(net_a.admin.browser_client(), fake, shop_id, state)
    assert "другой человек" in unescape(admin.content.decode())
    first = _come_back(browser, fake, shop_id, state)
    assert "подключён" in unescape(first.content.decode())
    second = _come_back(browser, fake, shop_id, state)
    assert "уже использована" in unescape(second.content.decode()) or "в другом браузере" in (
        unescape(second.content.decode())
    )
    assert len({h["token"] for h in fake.webhooks.values()}) == 1


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"code": "x"},
        {"code": "x", "state": "forged"},
        {"code": "x", "state": "a" * 5000},
        {"code": "x", "state": signing.dumps({"n": "alpha"}, salt="provider-oauth-state")},
        {
            "code": "x",
            "state": signing.dumps(
                {"n": "alpha", "p": "1", "s": "yookassa", "u": "u", "b": "b", "x": "x"},
                salt="amocrm-oauth-state",  # another flow's signature
            ),
        },
    ],
)
def test_a_callback_without_a_valid_state_is_a_clear_400(net_a, fake, query):
    response = platform_client().get(CALLBACK, query)

    assert response.status_code == 400
    assert "Не удалось подключить магазин" in response.content.decode()


def test_an_expired_state_or_one_for_another_provider_is_refused(net_a, fake):
    with tenant_context(net_a.network):
        partner_id = yookassa_shop(fake).partner_id
    browser = net_a.owner.browser_client()
    with mock.patch("time.time", return_value=time.time() - 31 * 60):
        old = _state(_start(browser, partner_id))
    fresh = _state(_start(browser, partner_id))

    expired = platform_client().get(CALLBACK, {"code": "c", "state": old})
    other = platform_client().get(
        "/integrations/providers/robokassa/oauth/callback/", {"code": "c", "state": fresh}
    )

    assert expired.status_code == 400 and "устарела" in expired.content.decode()
    assert other.status_code == 400


def test_a_used_code_is_refused_and_nothing_changes(net_a, fake):
    with tenant_context(net_a.network):
        account = yookassa_shop(fake)
    browser = net_a.owner.browser_client()
    state = _state(_start(browser, account.partner_id))
    back = urlsplit(fake.consent(APP_ID, _oauth_shop(fake), state))
    query = dict(parse_qsl(back.query))
    fake.codes.clear()  # YooKassa no longer knows the code (used or past 5 minutes)

    callback = platform_client().get(back.path, query)
    finish = urlsplit(callback["Location"])
    done = browser.get(finish.path, dict(parse_qsl(finish.query)), follow=True)

    assert "не принял код подключения" in unescape(done.content.decode())
    with tenant_context(net_a.network):
        assert (
            ProviderAccount.objects.get(pk=account.pk).provider_secrets == account.provider_secrets
        )


def test_without_an_oauth_app_the_button_says_so(net_a, settings):
    fake = FakeYooKassa()
    yookassa_options(settings, fake)  # no client id or secret
    with tenant_context(net_a.network):
        partner_id = yookassa_shop(fake).partner_id
    browser = net_a.owner.browser_client()

    response = browser.post(f"/panel/partners/{partner_id}/provider-connect/yookassa/", follow=True)

    assert "на платформе не настроено" in unescape(response.content.decode())


def test_a_viewer_cannot_start_a_connect_and_unknown_providers_are_refused(net_a, fake):
    with tenant_context(net_a.network):
        partner_id = yookassa_shop(fake).partner_id

    viewer = _start(net_a.viewer.browser_client(), partner_id)
    unknown = net_a.owner.browser_client().post(
        f"/panel/partners/{partner_id}/provider-connect/robokassa/", follow=True
    )

    assert viewer.status_code == 403
    assert "не подключается через OAuth" in unescape(unknown.content.decode())


# --- the shop check by API (GET /me) --------------------------------------------------------------


def _check(browser, partner_id):
    return browser.post(f"/panel/partners/{partner_id}/shop-check/", follow=True)


def test_the_shop_check_asks_yookassa_and_shows_the_shop(net_a, fake):
    with tenant_context(net_a.network):
        account = yookassa_shop(fake)
    browser = net_a.owner.browser_client()
    before = browser.get(f"/panel/partners/{account.partner_id}/").content.decode()
    assert "Robokassa" not in before.split('id="shop-check"')[1].split("</section>")[0]

    page = unescape(_check(browser, account.partner_id).content.decode())

    assert "Магазин 100500 подключён: боевой, чеки провайдер не отправляет" in page
    assert "bank_card, sbp" in page
    assert 'data-shop="ok"' in page
    me_calls = [r for r in fake.requests if r[1] == "/v3/me"]
    assert len(me_calls) == 1
    with tenant_context(net_a.network):
        assert not Invoice.objects.exists()  # no test payment on a live shop
        assert Partner.objects.get(pk=account.partner_id).shop_checked_at is not None


def test_the_shop_check_names_what_differs_from_the_card(net_a, fake):
    with tenant_context(net_a.network):
        account = yookassa_shop(fake)
    fake.shops["100500"].test = True
    fake.shops["100500"].fiscalization = True

    page = unescape(_check(net_a.owner.browser_client(), account.partner_id).content.decode())

    assert "Провайдер считает магазин тестовым" in page
    assert "включите чеки (54-ФЗ)" in page
    assert 'data-shop="error"' in page


def test_the_shop_check_with_a_wrong_key_says_so(net_a, fake):
    with tenant_context(net_a.network):
        account = yookassa_shop(fake)
    fake.shops["100500"].secret_key = "another-key-entirely"

    page = unescape(_check(net_a.owner.browser_client(), account.partner_id).content.decode())

    assert "Провайдер не принял данные магазина" in page
    with tenant_context(net_a.network):
        partner = Partner.objects.get(pk=account.partner_id)
    assert partner.shop_check_error and partner.shop_checked_at is None


def test_the_shop_check_when_yookassa_is_down_changes_nothing(net_a, fake):
    with tenant_context(net_a.network):
        account = yookassa_shop(fake)
    fake.fail_next(500, path_prefix="/me", times=5)

    page = unescape(_check(net_a.owner.browser_client(), account.partner_id).content.decode())

    assert "Провайдер сейчас не отвечает" in page
    with tenant_context(net_a.network):
        partner = Partner.objects.get(pk=account.partner_id)
    assert (partner.shop_check_error, partner.shop_checked_at) == ("", None)


def test_robokassa_keeps_its_test_invoice_check(net_a):
    with tenant_context(net_a.network):
        account = shop()
    page = unescape(_check(net_a.owner.browser_client(), account.partner_id).content.decode())

    assert "Тестовый счёт выставлен" in page
    with tenant_context(net_a.network):
        assert Invoice.objects.get().is_test


def test_a_payment_of_the_oauth_shop_is_verified_with_its_token_and_recorded(net_a, fake):
    """The notification YooKassa sends to the registered webhook is checked by re-reading the
    payment with the shop's sealed token (Bearer), then recorded like any other."""
    from franchise_platform.flows.payment import callback_apply
    from franchise_platform.payments.models import CallbackEvent, Deal

    with tenant_context(net_a.network):
        account = yookassa_shop(fake)
        deal = deal_with_links(account.partner.locations.get())
    shop_id = _oauth_shop(fake, test=False)
    browser = net_a.owner.browser_client()
    _come_back(browser, fake, shop_id, _state(_start(browser, account.partner_id)))
    fake.auto_notify = False  # delivered below through the test client, to the registered URL
    with tenant_context(net_a.network):
        visit(net_a.anonymous(), active_link(deal, LinkKind.FULL))
        invoice = Invoice.objects.get(deal=deal)
    paid = fake.pay(invoice.provider_reference)
    (url,) = fake.notification_urls("payment.succeeded", paid)

    answer = net_a.anonymous().post(
        urlsplit(url).path,
        data=json.dumps(fake.notification("payment.succeeded", paid)),
        content_type="application/json",
        REMOTE_ADDR="127.0.0.1",
    )

    assert answer.status_code == 200, answer.content
    with tenant_context(net_a.network):
        callback_apply(event_id=str(CallbackEvent.objects.get().pk))
        assert Deal.objects.get(pk=deal.pk).status == "paid"
    token_reads = [
        r for r in fake.requests if r[0] == "GET" and r[1] == f"/v3/payments/{paid['id']}"
    ]
    assert token_reads  # the body was not trusted: the payment was read back
