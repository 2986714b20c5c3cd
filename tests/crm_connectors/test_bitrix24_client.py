"""The Bitrix24 choke point: answer shapes, error mapping, refresh once on expired_token,
QUERY_LIMIT_EXCEEDED backoff, the portal's limits kept in Redis across processes."""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import pytest
import redis

from crm_connectors.amocrm.oauth import InMemoryTokenStore
from crm_connectors.bitrix24.client import (
    Bitrix24Portal,
    RetryPolicy,
    error_for,
)
from crm_connectors.bitrix24.connector import Bitrix24Connector
from crm_connectors.bitrix24.ratelimit import NullBitrixLimiter, RedisBitrixLimiter
from crm_connectors.errors import (
    CrmAccessRevoked,
    CrmAuthError,
    CrmNotFound,
    CrmPaymentRequired,
    CrmRateLimited,
    CrmUnavailable,
    CrmValidationError,
)
from tests.fakes.bitrix24 import FakeBitrix24

from .conftest import REDIS_URL
from .support import Sleeps, most_within, run_in_threads, tokens_from


@pytest.fixture
def make_limiter(
    redis_client: redis.Redis[bytes], redis_prefix: str
) -> Callable[..., RedisBitrixLimiter]:
    """The portal's limits in the test's own Redis keys."""
    return partial(RedisBitrixLimiter, redis_client, prefix=redis_prefix)


# -- answers and errors ---------------------------------------------------------------------


def test_answer_carries_result_and_time(
    b24: FakeBitrix24, b24_connector: Bitrix24Connector
) -> None:
    answer = b24_connector.client.call("app.info")

    assert answer.result["INSTALLED"] is True
    assert "operating" in answer.time


def test_lists_are_walked_by_start_offsets(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector
) -> None:
    for n in range(120):
        b24.add_userfield(member_id, f"UF_CRM_X{n}", "string")

    names = [f["FIELD_NAME"] for f in b24_connector.client.iter_list("crm.deal.userfield.list")]

    assert len(names) == 121  # and the portal's own field
    assert len(b24.calls_of(member_id, "crm.deal.userfield.list")) == 3


def test_empty_error_code_with_not_found_is_crm_not_found(
    b24_connector: Bitrix24Connector,
) -> None:
    with pytest.raises(CrmNotFound):
        b24_connector.client.call("crm.deal.get", {"id": 999_999})


def test_unknown_method_is_permanent(b24_connector: Bitrix24Connector) -> None:
    with pytest.raises(Exception) as caught:
        b24_connector.client.call("crm.nothing.here")

    assert caught.value.code == "method_not_found"  # type: ignore[attr-defined]
    assert caught.value.permanent  # type: ignore[attr-defined]


def test_error_with_http_200_is_still_an_error(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector
) -> None:
    with pytest.raises(CrmValidationError) as caught:
        b24_connector.client.call("placement.bind", {"PLACEMENT": "", "HANDLER": ""})

    assert "ERROR_ARGUMENT" in caught.value.errors[0]


@pytest.mark.parametrize(
    ("status", "body", "cls", "permanent"),
    [
        (401, {"error": "NO_AUTH_FOUND"}, CrmAuthError, True),
        (403, {"error": "insufficient_scope"}, CrmAccessRevoked, True),
        (403, {"error": "ACCESS_DENIED", "error_description": "REST API is available only on commercial plans"}, CrmPaymentRequired, True),
        (400, {"error": "", "error_description": "Access denied"}, CrmValidationError, True),
        (400, {"error": "OWNER_NOT_FOUND"}, CrmNotFound, True),
        (500, {"error": "INTERNAL_SERVER_ERROR"}, CrmUnavailable, False),
        (500, {"error": "PORTAL_DELETED"}, CrmAccessRevoked, True),
        (503, {"error": "QUERY_LIMIT_EXCEEDED"}, CrmRateLimited, False),
        (429, {"error": "OPERATION_TIME_LIMIT"}, CrmRateLimited, False),
    ],
)  # fmt: skip
def test_error_mapping(status: int, body: dict[str, str], cls: type, permanent: bool) -> None:
    error = error_for(status, body)

    assert type(error) is cls
    assert error.permanent is permanent


def test_plan_without_rest_pauses_the_portal(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector
) -> None:
    b24.rest_plan_denied(member_id)

    with pytest.raises(CrmPaymentRequired):
        b24_connector.client.call("app.info")


# -- tokens ---------------------------------------------------------------------------------


def test_expired_token_is_refreshed_once_and_the_call_repeated(
    b24: FakeBitrix24, member_id: str, make_b24_connector: Callable[..., Bitrix24Connector]
) -> None:
    store = InMemoryTokenStore(tokens_from(b24.issue_tokens(member_id)))
    connector = make_b24_connector(store=store)
    b24.expire_access_tokens(member_id)

    assert connector.client.call("app.info").result["INSTALLED"] is True

    assert b24.refresh_count(member_id) == 1
    assert store.saves == 1
    assert [c.error for c in b24.calls_of(member_id, "app.info")] == ["expired_token", ""]


def test_a_token_known_to_be_expired_is_refreshed_before_the_call(
    b24: FakeBitrix24, member_id: str, make_b24_connector: Callable[..., Bitrix24Connector]
) -> None:
    past = datetime.now(UTC) - timedelta(seconds=5)
    connector = make_b24_connector(
        store=InMemoryTokenStore(tokens_from(b24.issue_tokens(member_id), expires_at=past))
    )
    b24.expire_access_tokens(member_id)

    connector.client.call("app.info")

    assert [c.error for c in b24.calls_of(member_id, "app.info")] == [""]
    assert b24.refresh_count(member_id) == 1


def test_concurrent_expired_calls_rotate_the_pair_once(
    b24: FakeBitrix24, member_id: str, make_b24_connector: Callable[..., Bitrix24Connector]
) -> None:
    store = InMemoryTokenStore(tokens_from(b24.issue_tokens(member_id)))
    connectors = [make_b24_connector(store=store) for _ in range(8)]
    b24.expire_access_tokens(member_id)
    errors: list[BaseException] = []

    def work(connector: Bitrix24Connector) -> None:
        try:
            connector.client.call("app.info")
        except BaseException as exc:
            errors.append(exc)

    run_in_threads(work, [(c,) for c in connectors], timeout=20)

    assert errors == []
    # Rotation kills the used refresh token: a second refresh would have lost the install.
    assert b24.refresh_count(member_id) == 1


def test_refused_refresh_is_an_auth_error_and_keeps_the_pair(
    b24: FakeBitrix24, member_id: str, make_b24_connector: Callable[..., Bitrix24Connector]
) -> None:
    pair = b24.issue_tokens(member_id)
    store = InMemoryTokenStore(tokens_from(pair))
    connector = make_b24_connector(store=store)
    b24.uninstall(member_id)

    with pytest.raises(CrmAuthError):
        connector.client.call("app.info")

    assert store.current().refresh_token == pair["refresh_token"]


def test_tokens_never_reach_logs_or_errors(
    b24: FakeBitrix24,
    member_id: str,
    make_b24_connector: Callable[..., Bitrix24Connector],
    caplog: pytest.LogCaptureFixture,
) -> None:
    pair = b24.issue_tokens(member_id)
    connector = make_b24_connector(store=InMemoryTokenStore(tokens_from(pair)))
    caplog.set_level(logging.DEBUG)
    b24.expire_access_tokens(member_id)

    connector.client.call("app.info")
    with pytest.raises(CrmNotFound) as caught:
        connector.client.call("crm.deal.get", {"id": 5})

    for secret in (pair["access_token"], pair["refresh_token"], b24.client_secret):
        assert secret not in caplog.text
        assert secret not in str(caught.value) and secret not in repr(caught.value)
        assert secret not in repr(connector)


# -- retries --------------------------------------------------------------------------------


def test_query_limit_exceeded_is_retried_with_backoff(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector, sleeps: Sleeps
) -> None:
    b24.fail_next(2, 503, "QUERY_LIMIT_EXCEEDED", "Too many requests")

    b24_connector.client.call("app.info")

    assert len(b24.calls_of(member_id, "app.info")) == 3
    assert len(sleeps.calls) == 2
    assert all(s >= 0.5 for s in sleeps.calls)


def test_5xx_on_an_add_is_not_repeated(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector
) -> None:
    deal = b24.add_deal(member_id)
    b24.fail_next(1, 500, method="crm.timeline.comment.add")

    with pytest.raises(CrmUnavailable):
        b24_connector.add_note(deal, "hello")

    assert len(b24.calls_of(member_id, "crm.timeline.comment.add")) == 1


def test_persistent_5xx_gives_up_within_the_budget(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector, sleeps: Sleeps
) -> None:
    b24.fail_next(100, 500)

    with pytest.raises(CrmUnavailable) as caught:
        b24_connector.client.call("app.info")

    assert not caught.value.permanent
    assert len(b24.calls_of(member_id, "app.info")) == RetryPolicy().max_attempts
    assert sum(sleeps.calls) <= RetryPolicy().max_total_wait


MEMBER = "a223c6b3710f85df22e9377d6c4f7553"


def mocked_connector(
    handler: Callable[[httpx.Request], httpx.Response], endpoint: str, **kwargs: Any
) -> Bitrix24Connector:
    """A connector whose HTTP is answered by ``handler`` (a portal at ``endpoint``)."""
    pair = {"access_token": "a" * 32, "refresh_token": "r" * 32, "expires_in": 3600}
    return Bitrix24Connector(
        portal=Bitrix24Portal(MEMBER, endpoint),
        token_store=InMemoryTokenStore(tokens_from(pair)),
        limiter=NullBitrixLimiter(),
        client_id="app.x",
        client_secret="s",
        http=httpx.Client(transport=httpx.MockTransport(handler)),
        **kwargs,
    )


def test_moved_portal_is_re_posted_to_its_new_address() -> None:
    seen: list[str] = []
    moved_to: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.url.host} {request.content!r}")
        if request.url.host == "old.bitrix24.com":
            return httpx.Response(
                302, headers={"Location": "https://new.bitrix24.com/rest/app.info"}
            )
        return httpx.Response(200, json={"result": {"INSTALLED": True}, "time": {}})

    connector = mocked_connector(
        handler, "https://old.bitrix24.com/rest/", on_moved=moved_to.append
    )

    assert connector.client.call("app.info", {"x": 1}).result == {"INSTALLED": True}

    assert [s.split()[0] for s in seen] == ["old.bitrix24.com", "new.bitrix24.com"]
    assert seen[0].split()[1] == seen[1].split()[1]  # the same body, re-posted
    assert moved_to == ["https://new.bitrix24.com/rest/"]
    assert connector.client.portal.domain == "new.bitrix24.com"


def test_redirect_to_a_foreign_address_is_not_followed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "old.bitrix24.com":
            return httpx.Response(302, headers={"Location": "http://127.0.0.1:9/steal"})
        raise AssertionError("followed")

    connector = mocked_connector(handler, "https://old.bitrix24.com/rest/")

    with pytest.raises(CrmUnavailable) as caught:
        connector.client.call("app.info")

    assert caught.value.code == "bad_redirect"


def test_a_second_redirect_in_one_call_is_not_followed() -> None:
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        nxt = "b" if request.url.host == "a.bitrix24.com" else "a"
        return httpx.Response(302, headers={"Location": f"https://{nxt}.bitrix24.com/rest/x"})

    connector = mocked_connector(handler, "https://a.bitrix24.com/rest/")

    with pytest.raises(CrmUnavailable) as caught:
        connector.client.call("app.info")

    assert caught.value.code == "redirect"
    assert hosts == ["a.bitrix24.com", "b.bitrix24.com"]


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://acme.bitrix24.com/rest/",
        "https://acme.bitrix24.com:8443/rest/",
        "https://acme.bitrix24.com/rest/../x/",
        "https://user@acme.bitrix24.com/rest/",
        "https://127.0.0.1/rest/",
    ],
)
def test_stored_endpoint_must_be_a_portal(endpoint: str) -> None:
    with pytest.raises(ValueError):
        Bitrix24Portal(MEMBER, endpoint)


# -- the portal's limits --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bucket", "calls"),
    [(None, 60), (10, 16)],  # the portal's own 50, and the small one of the test below
)
def test_without_our_limiter_a_burst_hits_query_limit_exceeded(
    b24: FakeBitrix24,
    make_b24_connector: Callable[..., Bitrix24Connector],
    bucket: int | None,
    calls: int,
) -> None:
    if bucket is not None:
        b24.burst = bucket
    connector = make_b24_connector(retry=RetryPolicy(max_attempts=1))

    def burst() -> None:
        for _ in range(calls):
            connector.client.call("app.info")

    with pytest.raises(CrmRateLimited) as caught:
        burst()

    assert caught.value.code == "query_limit_exceeded"


def test_limiter_keeps_a_burst_below_the_portal_bucket(
    b24: FakeBitrix24,
    member_id: str,
    make_b24_connector: Callable[..., Bitrix24Connector],
    make_limiter: Callable[..., RedisBitrixLimiter],
) -> None:
    b24.burst = 10  # a small portal bucket keeps the test short; same 2/s drain
    limiter = make_limiter(burst=8, drain_per_second=2.0)
    connector = make_b24_connector(
        limiter=limiter, retry=RetryPolicy(max_attempts=1), sleep=time.sleep
    )

    started = time.monotonic()
    for _ in range(16):
        connector.client.call("app.info")

    # 8 at once, then one per half second: the portal never said QUERY_LIMIT_EXCEEDED (16 calls
    # at once would have, see the burst test above).
    assert time.monotonic() - started >= 3.5
    assert [c.status for c in b24.calls_of(member_id)] == [200] * 16
    assert b24.max_level_seen <= 10


def grants_in_processes(prefix: str, workers: int, each: int) -> list[float]:
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        results = pool.starmap(_take_slots, [(prefix, each)] * workers)
    return sorted(t for chunk in results for t in chunk)


def _take_slots(prefix: str, count: int) -> list[float]:
    client = redis.Redis.from_url(REDIS_URL)
    limiter = RedisBitrixLimiter(client, burst=5, drain_per_second=4.0, prefix=prefix)
    stamps = []
    for _ in range(count):
        assert limiter.acquire("portal:x", timeout=30)
        stamps.append(time.time())
    return stamps


def test_bucket_is_shared_across_processes(redis_prefix: str) -> None:
    stamps = grants_in_processes(redis_prefix, workers=3, each=5)

    assert len(stamps) == 15
    # burst 5, 4/s: any 1-second window holds at most 5 + 4 grants, and 15 need ≥ 2.5 s.
    assert most_within(stamps, 1.0) <= 9
    assert stamps[-1] - stamps[0] >= 2.4


def test_saturate_makes_every_process_wait(
    make_limiter: Callable[..., RedisBitrixLimiter],
) -> None:
    limiter = make_limiter(burst=10, drain_per_second=2.0)
    assert limiter.try_acquire("portal:y") == 0

    limiter.saturate("portal:y")

    assert limiter.try_acquire("portal:y") > 0
    assert not limiter.acquire("portal:y", timeout=0.1)


def test_query_limit_answer_saturates_the_shared_bucket(
    b24: FakeBitrix24,
    member_id: str,
    make_b24_connector: Callable[..., Bitrix24Connector],
    make_limiter: Callable[..., RedisBitrixLimiter],
) -> None:
    limiter = make_limiter(burst=40)
    connector = make_b24_connector(limiter=limiter, retry=RetryPolicy(max_attempts=1))
    b24.fail_next(1, 503, "QUERY_LIMIT_EXCEEDED", "Too many requests")

    with pytest.raises(CrmRateLimited):
        connector.client.call("app.info")

    assert limiter.try_acquire(connector.client.portal.limit_key) > 0


def test_method_near_its_time_budget_is_not_called_again(
    b24: FakeBitrix24,
    member_id: str,
    make_b24_connector: Callable[..., Bitrix24Connector],
    make_limiter: Callable[..., RedisBitrixLimiter],
) -> None:
    limiter = make_limiter(operating_limit=480)
    connector = make_b24_connector(limiter=limiter)
    other = make_b24_connector(limiter=limiter)  # another process's connector, same Redis
    deal = b24.add_deal(member_id)
    b24.set_operating(member_id, "crm.deal.get", 450)

    connector.client.call("crm.deal.get", {"id": deal})  # answers operating=450 (> 90 %)
    with pytest.raises(CrmRateLimited) as caught:
        other.client.call("crm.deal.get", {"id": deal})

    assert caught.value.code == "operation_time_limit"
    assert 0 < (caught.value.retry_after or 0) <= 600
    assert len(b24.calls_of(member_id, "crm.deal.get")) == 1
    other.client.call("app.info")  # other methods keep their own budget


def test_operation_time_limit_blocks_the_method_without_retrying(
    b24: FakeBitrix24,
    member_id: str,
    make_b24_connector: Callable[..., Bitrix24Connector],
    make_limiter: Callable[..., RedisBitrixLimiter],
    sleeps: Sleeps,
) -> None:
    limiter = make_limiter()
    connector = make_b24_connector(limiter=limiter)
    deal = b24.add_deal(member_id)
    b24.set_operating(member_id, "crm.deal.get", 500)

    with pytest.raises(CrmRateLimited) as first:
        connector.client.call("crm.deal.get", {"id": deal})
    with pytest.raises(CrmRateLimited):
        connector.client.call("crm.deal.get", {"id": deal})

    assert first.value.status == 429
    assert sleeps.calls == []
    assert len(b24.calls_of(member_id, "crm.deal.get")) == 1
