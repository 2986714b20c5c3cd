"""The YooKassa HTTP client: one auth scheme, keys on every write, no secrets in messages."""

from __future__ import annotations

import base64
from decimal import Decimal

import httpx
import pytest

from billing_providers.errors import ProviderConfigError, ProviderResponseError, ProviderUnavailable
from billing_providers.yookassa.client import Credentials, YooKassaClient, check_idempotence_key
from billing_providers.yookassa.provider import credentials_for
from tests.billing_providers.yookassa_factories import SECRET_KEY, SHOP_ID, make_account


def test_basic_or_bearer_never_both():
    basic = Credentials(shop_id=SHOP_ID, secret_key=SECRET_KEY)
    assert (
        basic.header() == "Basic " + base64.b64encode(f"{SHOP_ID}:{SECRET_KEY}".encode()).decode()
    )
    assert SECRET_KEY not in repr(basic)
    oauth = credentials_for(make_account(secrets={"secret_key": SECRET_KEY, "oauth_token": "tok"}))
    assert oauth.header() == "Bearer tok" and oauth.secret_key == ""
    with pytest.raises(ProviderConfigError) as caught:
        Credentials(shop_id=SHOP_ID).header()
    assert caught.value.code == "missing_secret"


@pytest.mark.parametrize("key", ["", "x" * 65, "has space", "ключ"])
def test_keys_yookassa_would_refuse(key):
    with pytest.raises(ProviderConfigError):
        check_idempotence_key(key)


def _client(handler, **options):
    return YooKassaClient(
        api_base_url="https://api.test/v3",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=lambda _s: None,
        **options,
    )


def test_writes_carry_the_key_and_json_with_decimal_strings():
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200, json={})

    client = _client(handler)
    creds = Credentials(shop_id=SHOP_ID, secret_key=SECRET_KEY)
    client.create_refund(creds, {"amount": {"value": Decimal("1.50")}}, idempotence_key="k-1")
    client.delete_webhook(Credentials(oauth_token="t"), "wh-1", idempotence_key="k-2")
    assert seen[0].headers["Idempotence-Key"] == "k-1"
    assert seen[0].content == b'{"amount":{"value":"1.50"}}'
    assert seen[1].method == "DELETE" and seen[1].headers["Idempotence-Key"] == "k-2"
    with pytest.raises(ProviderConfigError):
        client.request("POST", "/payments", creds)


def test_timeouts_are_retried_then_unavailable():
    calls = []

    def handler(request):
        calls.append(request.headers["Idempotence-Key"])
        raise httpx.ReadTimeout("slow", request=request)

    client = _client(handler, max_attempts=3)
    with pytest.raises(ProviderUnavailable) as caught:
        client.create_payment(Credentials(oauth_token="t"), {}, idempotence_key="same")
    assert caught.value.code == "timeout" and calls == ["same", "same", "same"]


def test_unreadable_answers_and_bad_ids():
    client = _client(lambda request: httpx.Response(200, content=b"<html>"))
    with pytest.raises(ProviderResponseError):
        client.me(Credentials(oauth_token="t"))
    with pytest.raises(ProviderConfigError) as caught:
        client.get_payment(Credentials(oauth_token="t"), "../me")
    assert caught.value.code == "bad_object_id"
