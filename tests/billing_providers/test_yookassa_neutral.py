"""YooKassa through the provider-neutral interface the core uses (issue 16, item 4): the buyer's
contact a receipt needs, the shop check, the OAuth connect and the notifications registered by
API, all as ``BillingProvider`` methods and neutral dataclasses."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from billing_providers.base import BillingProvider, OAuthConnected, ShopCheck
from billing_providers.dummy.provider import DummyProvider
from billing_providers.errors import ProviderConfigError
from billing_providers.robokassa.provider import RobokassaProvider
from tests.billing_providers.yookassa_factories import SHOP_ID, make_account, make_request, make_rig

CLIENT_ID, CLIENT_SECRET = "platform-app", "app-secret-123"
HOOK_URL = "https://platform.example/callbacks/yookassa/7/notification/"


@pytest.fixture
def rig():
    rig = make_rig(oauth_client_id=CLIENT_ID, oauth_client_secret=CLIENT_SECRET)
    rig.fake.register_app(CLIENT_ID, CLIENT_SECRET, "https://platform.example/cb/")
    return rig


def _payment_bodies(rig):
    return [
        json.loads(b) for m, p, _q, b in rig.fake.requests if m == "POST" and p == "/v3/payments"
    ]


def test_a_receipt_shop_needs_an_email_or_a_phone_and_others_nothing(rig):
    assert rig.provider.buyer_contact_kinds(make_account(fiscalization=True)) == ("email", "phone")
    assert rig.provider.buyer_contact_kinds(make_account(fiscalization=False)) == ()
    assert RobokassaProvider().buyer_contact_kinds(make_account()) == ()
    assert BillingProvider.buyer_contact_kinds is DummyProvider.buyer_contact_kinds


def test_the_phone_goes_into_the_receipt_in_digits(rig):
    rig.fake.shops[SHOP_ID].fiscal_provider = "atol"

    rig.provider.issue_invoice(make_account(), make_request(email=None, phone="+7 900 123-45-67"))

    assert _payment_bodies(rig)[-1]["receipt"]["customer"] == {"phone": "79001234567"}


def test_a_contact_the_register_refuses_is_bad_contact_not_a_broken_shop(rig):
    # Чеки от ЮKassa (the fake shop's default) send receipts by e-mail only (§4.1).
    with pytest.raises(ProviderConfigError) as refused:
        rig.provider.issue_invoice(make_account(), make_request(email=None, phone="79001234567"))

    assert refused.value.code == "bad_contact" and refused.value.permanent


def test_the_shop_check_is_get_me_in_neutral_words(rig):
    found = rig.provider.shop_check(make_account())

    assert found == ShopCheck(
        shop_id=SHOP_ID,
        enabled=True,
        test=rig.fake.shops[SHOP_ID].test,
        fiscalization=rig.fake.shops[SHOP_ID].fiscalization,
        payment_methods=tuple(
            rig.fake._me(rig.fake.shops[SHOP_ID], None, [], {})["payment_methods"]
        ),
        fiscal_provider="avanpost" if rig.fake.shops[SHOP_ID].fiscalization else None,
    )
    assert type(rig.provider).checks_shop_by_api and not RobokassaProvider.checks_shop_by_api


def test_a_wrong_key_fails_the_shop_check_as_a_config_error(rig):
    with pytest.raises(ProviderConfigError):
        rig.provider.shop_check(make_account(secrets={"secret_key": "wrong-key-123"}))


def test_oauth_connect_gives_the_shop_and_its_sealed_token(rig):
    url = rig.provider.oauth_authorize_url("signed-state")
    assert parse_qs(urlsplit(url).query)["state"] == ["signed-state"]
    code = parse_qs(urlsplit(rig.fake.consent(CLIENT_ID, SHOP_ID, "signed-state")).query)["code"][0]

    connected = rig.provider.oauth_connect(code)

    assert isinstance(connected, OAuthConnected)
    assert connected.login == SHOP_ID and connected.shop.shop_id == SHOP_ID
    token = connected.secrets["oauth_token"]
    assert rig.fake.tokens[token].shop_id == SHOP_ID
    assert token not in repr(connected)
    with pytest.raises(ProviderConfigError):
        rig.provider.oauth_connect(code)  # single use


def test_notifications_are_registered_for_a_token_and_refused_for_keys(rig):
    rig.fake.allow_http_webhooks = False
    token = rig.fake.issue_token(SHOP_ID, CLIENT_ID)

    events = rig.provider.notifications_register(
        make_account(secrets={"oauth_token": token}), HOOK_URL
    )

    assert {"payment.succeeded", "payment.canceled", "refund.succeeded"} <= set(events)
    assert {h["url"] for h in rig.fake.webhooks.values()} == {HOOK_URL}
    with pytest.raises(ProviderConfigError) as keys:
        rig.provider.notifications_register(make_account(), HOOK_URL)
    assert keys.value.code == "oauth_required"


def test_a_provider_without_these_says_not_supported():
    dummy = DummyProvider()
    for call in (
        lambda: dummy.shop_check(make_account()),
        lambda: dummy.oauth_authorize_url("s"),
        lambda: dummy.oauth_connect("c"),
        lambda: dummy.notifications_register(make_account(), HOOK_URL),
    ):
        with pytest.raises(ProviderConfigError) as refused:
            call()
        assert refused.value.code == "not_supported"
