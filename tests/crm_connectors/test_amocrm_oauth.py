"""OAuth against the fake: consent URL, code exchange, rotation, disconnect hook, stores."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import redis

from crm_connectors.amocrm.client import AmoClient, AmoClientOptions
from crm_connectors.amocrm.oauth import (
    RedisTokenStore,
    account_base_url,
    build_authorize_url,
    disconnect_signature,
    exchange_code,
    fetch_account,
    refresh_tokens,
    verify_disconnect_signature,
)
from crm_connectors.amocrm.ratelimit import NullRateLimiter
from crm_connectors.base import CrmAccountRef, OAuthTokens
from crm_connectors.errors import CrmAuthError, CrmUnavailable
from tests.fakes.amocrm import FakeAmoCrm


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def test_authorize_url_has_the_contract_shape() -> None:
    url = build_authorize_url("client-uuid", "signed.state")

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://www.amocrm.ru/oauth"
    assert parse_qs(parts.query) == {
        "client_id": ["client-uuid"],
        "state": ["signed.state"],
        "mode": ["popup"],
    }
    with pytest.raises(ValueError, match="mode"):
        build_authorize_url("c", "s", mode="redirect")


@pytest.mark.parametrize(
    ("referer", "expected"),
    [
        ("chezaquest.amocrm.ru", "https://chezaquest.amocrm.ru"),
        ("Example.Kommo.com", "https://example.kommo.com"),
        ("https://old.amocrm.com/", "https://old.amocrm.com"),
    ],
)
def test_account_base_url_accepts_amocrm_hosts(referer: str, expected: str) -> None:
    assert account_base_url(referer) == expected


@pytest.mark.parametrize(
    "referer",
    ["evil.example", "amocrm.ru.evil.example", "a.amocrm.ru:8443", "x.amocrm.ru/path", "", "a b"],
)
def test_account_base_url_refuses_foreign_hosts(referer: str) -> None:
    with pytest.raises(ValueError, match="referer"):
        account_base_url(referer)


def test_the_override_wins_for_a_valid_referer(fake: FakeAmoCrm) -> None:
    assert account_base_url("a.amocrm.ru", api_base_url=fake.base_url + "/") == fake.base_url


def test_the_override_does_not_excuse_a_foreign_referer(fake: FakeAmoCrm) -> None:
    with pytest.raises(ValueError, match="referer"):
        account_base_url("evil.example", api_base_url=fake.base_url)


def test_code_exchange_then_account_lookup(
    fake: FakeAmoCrm, account_id: int, http: httpx.Client
) -> None:
    code = fake.authorize(account_id)

    tokens = exchange_code(
        http, fake.base_url, fake.client_id, fake.client_secret, code, fake.redirect_uri
    )
    account = fetch_account(http, fake.base_url, tokens)

    assert account.account_id == account_id
    assert account.subdomain == "chezaquest"
    assert tokens.expires_at > datetime.now(UTC) + timedelta(hours=23)


def test_a_code_works_once(fake: FakeAmoCrm, account_id: int, http: httpx.Client) -> None:
    code = fake.authorize(account_id)
    args = (http, fake.base_url, fake.client_id, fake.client_secret, code, fake.redirect_uri)
    exchange_code(*args)

    with pytest.raises(CrmAuthError) as caught:
        exchange_code(*args)

    assert caught.value.code == "invalid_grant"


def test_a_wrong_redirect_uri_is_refused(
    fake: FakeAmoCrm, account_id: int, http: httpx.Client
) -> None:
    code = fake.authorize(account_id)

    with pytest.raises(CrmAuthError):
        exchange_code(
            http, fake.base_url, fake.client_id, fake.client_secret, code, "https://other/cb/"
        )


def test_refresh_rotates_and_the_old_refresh_token_dies(
    fake: FakeAmoCrm, account_id: int, http: httpx.Client
) -> None:
    pair = fake.issue_tokens(account_id)
    args = (http, fake.base_url, fake.client_id, fake.client_secret)

    rotated = refresh_tokens(*args, pair["refresh_token"], fake.redirect_uri)

    assert rotated.refresh_token != pair["refresh_token"]
    with pytest.raises(CrmAuthError):
        refresh_tokens(*args, pair["refresh_token"], fake.redirect_uri)
    old_access = httpx.get(
        fake.base_url + "/api/v4/account",
        headers={"Authorization": f"Bearer {pair['access_token']}"},
    )
    assert old_access.status_code == 401


def test_unreachable_token_endpoint_is_unavailable(http: httpx.Client) -> None:
    with pytest.raises(CrmUnavailable):
        refresh_tokens(http, "http://127.0.0.1:9", "id", "secret", "r", "http://x/cb/")


def test_disconnect_signature_is_verified_in_constant_time() -> None:
    signature = disconnect_signature("client-uuid", 32720107, "secret")

    assert verify_disconnect_signature("client-uuid", "32720107", signature, "secret")
    assert verify_disconnect_signature("client-uuid", 32720107, signature.upper(), "secret")
    assert verify_disconnect_signature(
        "client-uuid", 32720107, signature, "secret", client_id="client-uuid"
    )
    assert not verify_disconnect_signature(
        "client-uuid", 32720107, signature, "secret", client_id="another"
    )
    assert not verify_disconnect_signature("client-uuid", 32720108, signature, "secret")
    assert not verify_disconnect_signature("client-uuid", 32720107, signature, "other")
    assert not verify_disconnect_signature("client-uuid", "1 OR 1", signature, "secret")
    assert not verify_disconnect_signature("client-uuid", 32720107, "zz\u00e9", "secret")
    assert not verify_disconnect_signature("client-uuid", 32720107, "", "secret")


def test_known_disconnect_vector() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"secret", b"uuid|42", hashlib.sha256).hexdigest()

    assert disconnect_signature("uuid", 42, "secret") == expected


def test_tokens_never_show_in_repr() -> None:
    tokens = OAuthTokens("ACCESS-SECRET", "REFRESH-SECRET", datetime.now(UTC))

    assert "SECRET" not in repr(tokens)
    with pytest.raises(ValueError, match="timezone"):
        OAuthTokens("a", "r", datetime.now())


def test_fifty_threads_with_an_expired_token_refresh_exactly_once(
    redis_client: redis.Redis[bytes],
    redis_prefix: str,
    make_tokens: Callable[..., OAuthTokens],
) -> None:
    with FakeAmoCrm(rate_limit=None) as fake:
        account_id = fake.add_account()
        expired = make_tokens(
            fake.issue_tokens(account_id), expires_at=datetime.now(UTC) - timedelta(minutes=1)
        )
        RedisTokenStore(redis_client, f"{redis_prefix}:tokens").save(expired)
        barrier = threading.Barrier(50)
        results: list[int] = []
        errors: list[BaseException] = []
        shared_http = httpx.Client()  # thread-safe; building 50 SSL contexts is just slow

        def worker() -> None:
            # Each worker has its own store object and connection, like separate processes.
            own_redis = redis.Redis.from_url("redis://127.0.0.1:6379/15")
            store = RedisTokenStore(own_redis, f"{redis_prefix}:tokens")
            client = AmoClient(
                CrmAccountRef(account_id, fake.base_url),
                store,
                NullRateLimiter(),
                fake.client_id,
                fake.client_secret,
                fake.redirect_uri,
                shared_http,
                options=AmoClientOptions(),
            )
            try:
                barrier.wait()
                results.append(client.get("/api/v4/account")["id"])
            except BaseException as exc:
                errors.append(exc)
            finally:
                own_redis.close()

        threads = [threading.Thread(target=worker) for _ in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        shared_http.close()

        assert errors == []
        assert results == [account_id] * 50
        assert fake.refresh_count(account_id) == 1
        failed_grants = [g for g in fake.token_grants if g[2] != 200]
        assert failed_grants == []
        assert all(r.status == 200 for r in fake.api_requests(account_id))
