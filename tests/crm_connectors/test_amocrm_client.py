"""The HTTP choke point: auth, refresh on 401, bounded backoff, error mapping, no leaks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from crm_connectors.amocrm.client import AmoClient, RetryPolicy, encode_json
from crm_connectors.amocrm.connector import AmoCrmConnector
from crm_connectors.amocrm.oauth import InMemoryTokenStore
from crm_connectors.amocrm.ratelimit import NullRateLimiter
from crm_connectors.base import CrmAccountRef, OAuthTokens
from crm_connectors.errors import (
    CrmAccessRevoked,
    CrmAuthError,
    CrmPaymentRequired,
    CrmRateLimited,
    CrmUnavailable,
    CrmValidationError,
)
from tests.fakes.amocrm import FakeAmoCrm


def account_calls(fake: FakeAmoCrm, account_id: int) -> int:
    return sum(1 for r in fake.api_requests(account_id) if r.path == "/api/v4/account")


def test_5xx_is_retried_with_jitter_and_then_succeeds(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector, sleeps: Any
) -> None:
    fake.fail_next(2, 502)

    data = connector.client.get("/api/v4/account")

    assert data["id"] == account_id
    assert account_calls(fake, account_id) == 3
    assert len(sleeps.calls) == 2


def test_persistent_5xx_gives_up_after_bounded_attempts(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector, sleeps: Any
) -> None:
    fake.fail_for(60, 500)

    with pytest.raises(CrmUnavailable) as caught:
        connector.client.get("/api/v4/account")

    assert not caught.value.permanent
    assert caught.value.status == 500
    assert account_calls(fake, account_id) == RetryPolicy().max_attempts
    waits = sleeps.calls
    assert sum(waits) <= RetryPolicy().max_total_wait
    assert all(0 <= w <= RetryPolicy().max_delay for w in waits)


def test_real_sleeps_stay_within_the_budget(
    fake: FakeAmoCrm, make_connector: Callable[..., AmoCrmConnector]
) -> None:
    import time

    policy = RetryPolicy(max_attempts=3, base_delay=0.1, max_delay=0.2, max_total_wait=0.5)
    connector = make_connector(retry=policy, sleep=time.sleep)
    fake.fail_for(60, 503)

    started = time.monotonic()
    with pytest.raises(CrmUnavailable):
        connector.client.get("/api/v4/account")

    assert time.monotonic() - started < 2.0


def test_429_honours_a_short_retry_after(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector, sleeps: Any
) -> None:
    fake.fail_next(1, 429, retry_after=1)

    connector.client.get("/api/v4/account")

    assert account_calls(fake, account_id) == 2
    assert sleeps.calls[0] >= 1


def test_429_with_a_long_retry_after_is_handed_to_the_caller(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector, sleeps: Any
) -> None:
    fake.fail_next(1, 429, retry_after=300)

    with pytest.raises(CrmRateLimited) as caught:
        connector.client.get("/api/v4/account")

    assert caught.value.retry_after == 300
    assert not caught.value.permanent
    assert account_calls(fake, account_id) == 1
    assert sleeps.calls == []


def test_persistent_429_stops_after_bounded_attempts(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    fake.fail_for(60, 429)

    with pytest.raises(CrmRateLimited):
        connector.client.get("/api/v4/account")

    assert account_calls(fake, account_id) == RetryPolicy().max_attempts


def test_403_stops_at_once(fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector) -> None:
    fake.revoke(account_id, status=403)

    with pytest.raises(CrmAccessRevoked) as caught:
        connector.client.get("/api/v4/account")

    assert caught.value.permanent
    assert isinstance(caught.value, CrmAuthError)
    assert account_calls(fake, account_id) == 1
    assert fake.refresh_count(account_id) == 0


def test_an_html_403_ban_page_is_access_revoked(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    fake.fail_next(1, 403)

    with pytest.raises(CrmAccessRevoked):
        connector.client.get("/api/v4/account")


def test_402_pauses_the_account(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    fake.fail_next(1, 402)

    with pytest.raises(CrmPaymentRequired) as caught:
        connector.client.get("/api/v4/account")

    assert caught.value.permanent
    assert account_calls(fake, account_id) == 1


def test_401_refreshes_once_and_retries(
    fake: FakeAmoCrm,
    account_id: int,
    make_connector: Callable[..., AmoCrmConnector],
    make_tokens: Callable[..., OAuthTokens],
) -> None:
    store = InMemoryTokenStore(make_tokens(fake.issue_tokens(account_id)))
    connector = make_connector(store=store)
    fake.expire_access_tokens(account_id)  # the server says no before our clock does

    assert connector.client.get("/api/v4/account")["id"] == account_id

    assert fake.refresh_count(account_id) == 1
    assert store.saves == 1


def test_401_after_a_refused_refresh_is_an_auth_error(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    fake.revoke(account_id, status=401)

    with pytest.raises(CrmAuthError) as caught:
        connector.client.get("/api/v4/account")

    assert caught.value.code == "invalid_grant"
    assert caught.value.permanent


def test_token_near_expiry_is_refreshed_before_the_call(
    fake: FakeAmoCrm,
    account_id: int,
    make_connector: Callable[..., AmoCrmConnector],
    make_tokens: Callable[..., OAuthTokens],
) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=30)
    store = InMemoryTokenStore(make_tokens(fake.issue_tokens(account_id), expires_at=soon))
    connector = make_connector(store=store)

    connector.client.get("/api/v4/account")
    connector.client.get("/api/v4/account")

    assert fake.refresh_count(account_id) == 1
    assert store.current().expires_at > datetime.now(UTC) + timedelta(hours=23)
    assert all(r.status == 200 for r in fake.api_requests(account_id))


def test_a_refresh_that_fails_on_the_network_keeps_the_old_pair(
    fake: FakeAmoCrm,
    account_id: int,
    make_connector: Callable[..., AmoCrmConnector],
    make_tokens: Callable[..., OAuthTokens],
) -> None:
    old = make_tokens(fake.issue_tokens(account_id), expires_at=datetime.now(UTC))
    store = InMemoryTokenStore(old)
    connector = make_connector(store=store)
    fake.fail_next(1, 503, path_contains="/oauth2/access_token")

    with pytest.raises(CrmUnavailable):
        connector.client.get("/api/v4/account")
    assert store.current() is old

    connector.client.get("/api/v4/account")  # retried later with the same refresh token
    assert fake.refresh_count(account_id) == 1


def test_400_is_a_validation_error_with_the_reasons(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    fake.set_lead(account_id, 1, 100)

    with pytest.raises(CrmValidationError) as caught:
        connector.client.patch("/api/v4/leads/1", {"price": Decimal("10.5")})

    assert caught.value.permanent
    assert caught.value.status == 400
    assert "price" in str(caught.value)


def test_post_is_not_repeated_after_an_ambiguous_5xx(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    fake.set_lead(account_id, 1, 100)
    fake.fail_next(1, 500)

    with pytest.raises(CrmUnavailable):
        connector.add_note(1, "text")

    assert len(fake.api_requests(account_id, methods=["POST"])) == 1


def test_a_slow_answer_times_out_as_unavailable(
    fake: FakeAmoCrm, account_id: int, make_connector: Callable[..., AmoCrmConnector]
) -> None:
    connector = make_connector(timeout=0.2, retry=RetryPolicy(max_attempts=1))
    fake.delay_next(1, 1.0)

    with pytest.raises(CrmUnavailable) as caught:
        connector.client.get("/api/v4/account")

    assert caught.value.code == "network"


def test_an_unreachable_host_is_unavailable(account_id: int, sleeps: Any) -> None:
    tokens = OAuthTokens("a" * 20, "r" * 20, datetime.now(UTC) + timedelta(days=1))
    client = AmoClient(
        CrmAccountRef(account_id, "http://127.0.0.1:9"),
        InMemoryTokenStore(tokens),
        NullRateLimiter(),
        "id",
        "secret",
        "http://localhost/cb",
        sleep=lambda s: None,
    )

    with pytest.raises(CrmUnavailable):
        client.get("/api/v4/account")


def test_secrets_never_reach_reprs_errors_or_logs(
    fake: FakeAmoCrm,
    account_id: int,
    make_connector: Callable[..., AmoCrmConnector],
    make_tokens: Callable[..., OAuthTokens],
    caplog: pytest.LogCaptureFixture,
) -> None:
    tokens = make_tokens(fake.issue_tokens(account_id), expires_at=datetime.now(UTC))
    connector = make_connector(store=InMemoryTokenStore(tokens))
    caplog.set_level(logging.DEBUG)
    fake.revoke(account_id, status=401)

    with pytest.raises(CrmAuthError) as caught:
        connector.client.get("/api/v4/account")

    shown = " ".join(
        [
            repr(tokens),
            repr(connector),
            repr(connector.client),
            str(caught.value),
            repr(caught.value),
            caplog.text,
        ]
    )
    for secret in (tokens.access_token, tokens.refresh_token, fake.client_secret):
        assert secret not in shown


def test_decimal_is_encoded_exactly() -> None:
    body = encode_json({"a": Decimal("1500.00"), "b": Decimal("0.10"), "c": [Decimal("7")]})

    assert body == b'{"a":1500,"b":0.10,"c":[7]}'


def test_a_given_http_client_is_used_and_left_open(
    fake: FakeAmoCrm, account_id: int, make_connector: Callable[..., AmoCrmConnector]
) -> None:
    seen: list[str] = []
    with httpx.Client(event_hooks={"request": [lambda r: seen.append(r.url.path)]}) as http:
        connector = make_connector(http=http)
        connector.client.get("/api/v4/account")
        assert not http.is_closed
    assert seen == ["/api/v4/account"]
