"""Connecting a shop: OAuth for partners, webhooks registered by API, the account declaration."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from billing_providers.errors import ProviderConfigError
from billing_providers.yookassa.account import (
    ACCOUNT_FIELDS,
    CABINET_ADDRESSES,
    CONNECTS_BY_OAUTH,
    validate_account,
)
from billing_providers.yookassa.client import RequestRefused
from billing_providers.yookassa.consts import WEBHOOK_EVENTS
from tests.billing_providers.yookassa_factories import SHOP_ID, make_account, make_request, make_rig

CLIENT_ID, CLIENT_SECRET = "platform-app", "app-secret-123"
CALLBACK = "https://platform.example/connect/yookassa/callback/"
HOOK_URL = "https://platform.example/callbacks/yookassa/7/notification/"


@pytest.fixture
def rig():
    rig = make_rig(oauth_client_id=CLIENT_ID, oauth_client_secret=CLIENT_SECRET)
    rig.fake.register_app(CLIENT_ID, CLIENT_SECRET, CALLBACK)
    return rig


def _connect(rig, state="signed-state"):
    oauth = rig.provider.oauth_client()
    url = oauth.authorize_url(state)
    query = parse_qs(urlsplit(url).query)
    assert query == {"client_id": [CLIENT_ID], "response_type": ["code"], "state": [state]}
    page = rig.provider.client._http.get(url)  # the owner sees YooKassa's consent page
    assert page.status_code == 200
    redirect = parse_qs(urlsplit(rig.fake.consent(CLIENT_ID, SHOP_ID, state)).query)
    assert redirect["state"] == [state]
    return oauth, redirect["code"][0]


def test_code_exchange_gives_a_token_that_acts_for_the_shop(rig):
    oauth, code = _connect(rig)
    token = oauth.exchange_code(code)
    assert token.expires_at is not None and token.expires_at > datetime.now(UTC) + timedelta(
        days=365
    )
    assert token.access_token not in repr(token) and CLIENT_SECRET not in repr(oauth)
    # Bearer, not Basic: the account has no secret key at all.
    account = make_account(secrets={"oauth_token": token.access_token})
    assert rig.provider.shop_info(account).shop_id == SHOP_ID


def test_a_code_is_used_once_and_within_five_minutes(rig):
    oauth, code = _connect(rig)
    oauth.exchange_code(code)
    with pytest.raises(RequestRefused) as caught:
        oauth.exchange_code(code)
    assert caught.value.code == "oauth_refused" and caught.value.status == 400
    _oauth, late = _connect(rig)
    rig.fake.advance(301)
    with pytest.raises(RequestRefused):
        oauth.exchange_code(late)


def test_wrong_app_secret_is_refused(rig):
    _oauth, code = _connect(rig)
    wrong = make_rig(rig.fake, oauth_client_id=CLIENT_ID, oauth_client_secret="nope")
    with pytest.raises(RequestRefused) as caught:
        wrong.provider.oauth_client().exchange_code(code)
    assert caught.value.status == 401


def test_a_denied_consent_brings_an_error_back():
    rig = make_rig()
    rig.fake.register_app(CLIENT_ID, CLIENT_SECRET, CALLBACK)
    query = parse_qs(urlsplit(rig.fake.consent(CLIENT_ID, SHOP_ID, "s", allow=False)).query)
    assert query == {"error": ["access_denied"], "state": ["s"]}


def test_a_revoked_token_no_longer_works(rig):
    oauth, code = _connect(rig)
    token = oauth.exchange_code(code).access_token
    oauth.revoke(token)
    with pytest.raises(RequestRefused) as caught:
        rig.provider.shop_info(make_account(secrets={"oauth_token": token}))
    assert caught.value.code == "invalid_credentials"


def test_webhooks_are_registered_once_per_event_and_moved_when_the_url_changes(rig):
    oauth, code = _connect(rig)
    account = make_account(secrets={"oauth_token": oauth.exchange_code(code).access_token})
    rig.fake.allow_http_webhooks = False
    hooks = rig.provider.register_webhooks(account, HOOK_URL)
    assert sorted(h["event"] for h in hooks) == sorted(WEBHOOK_EVENTS)
    assert rig.provider.register_webhooks(account, HOOK_URL) and len(rig.fake.webhooks) == 4

    new_url = HOOK_URL.replace("/7/", "/8/")
    rig.provider.register_webhooks(account, new_url)
    assert {h["url"] for h in rig.fake.webhooks.values()} == {new_url}
    assert len(rig.fake.webhooks) == 4
    # And back the same day: the old subscriptions are not "replayed" from deleted ones.
    rig.provider.register_webhooks(account, HOOK_URL)
    assert {h["url"] for h in rig.fake.webhooks.values()} == {HOOK_URL}
    assert len(rig.fake.webhooks) == 4


def test_webhooks_need_an_oauth_token(rig):
    with pytest.raises(ProviderConfigError) as caught:
        rig.provider.register_webhooks(make_account(), HOOK_URL)
    assert caught.value.code == "oauth_required"


def test_payments_of_an_oauth_shop_notify_its_registered_webhook(rig):
    oauth, code = _connect(rig)
    account = make_account(secrets={"oauth_token": oauth.exchange_code(code).access_token})
    rig.fake.allow_http_webhooks = True
    received: list[dict] = []

    def shop(request: httpx.Request) -> httpx.Response:
        received.append(json.loads(request.content))
        return httpx.Response(200)

    rig.fake.notify_client = httpx.Client(transport=httpx.MockTransport(shop))
    rig.provider.register_webhooks(account, HOOK_URL)
    issued = rig.provider.issue_invoice(account, make_request())
    rig.fake.pay(issued.payment_id)
    assert [r["event"] for r in received] == ["payment.succeeded"]
    assert received[0]["object"]["id"] == issued.payment_id


def test_oauth_needs_the_app_settings():
    with pytest.raises(ProviderConfigError) as caught:
        make_rig().provider.oauth_client()
    assert caught.value.code == "missing_oauth_app"


# the account declaration --------------------------------------------------------------------


def test_account_fields_are_declared_with_both_languages_and_secrets_marked():
    names = {f.name: f for f in ACCOUNT_FIELDS}
    assert {"shop_id", "secret_key", "oauth_token", "test_mode", "fiscalization"} <= set(names)
    assert names["secret_key"].secret and names["oauth_token"].secret
    assert not names["shop_id"].secret and names["shop_id"].target == "login"
    assert not names["oauth_token"].entered  # filled by the OAuth connect, never typed
    for spec in ACCOUNT_FIELDS:
        assert spec.label_ru and spec.label_en and spec.label_ru != spec.label_en
    assert CONNECTS_BY_OAUTH
    (address,) = CABINET_ADDRESSES
    assert address.path == "/callbacks/yookassa/{partner_id}/notification/"
    assert "payment.succeeded" in address.help_ru


def test_validate_account_names_each_problem():
    assert validate_account({"shop_id": "100500", "secret_key": "test_abcdefgh"}, "keys") == {}
    assert validate_account({}, "keys") == {"shop_id": "required", "secret_key": "required"}
    assert validate_account({"shop_id": "shop!", "secret_key": "x" * 200}, "keys") == {
        "shop_id": "bad_format",
        "secret_key": "too_long",
    }
    assert validate_account({}, "oauth") == {}  # the token comes from the connect flow
