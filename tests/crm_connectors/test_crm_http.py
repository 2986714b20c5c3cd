"""The HTTP pieces both CRM clients share (crm_connectors/http.py), each client's choice of them."""

from __future__ import annotations

import os
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from crm_connectors import http as crm_http
from crm_connectors.amocrm import client as amo_client
from crm_connectors.bitrix24 import client as b24_client
from crm_connectors.errors import CrmError, CrmRateLimited, CrmUnavailable


@pytest.mark.parametrize(
    ("encode", "expected"),
    [
        (amo_client.encode_json, b'{"a":1500,"b":0.10,"c":[7],"d":"x"}'),
        (crm_http.encode_json, b'{"a":1500.00,"b":0.10,"c":[7],"d":"x"}'),  # Bitrix24's
    ],
)
def test_money_goes_out_exact_in_each_vendors_form(
    encode: Callable[[Any], bytes], expected: bytes
) -> None:
    body = encode({"a": Decimal("1500.00"), "b": Decimal("0.10"), "c": [Decimal("7")], "d": "x"})

    assert body == expected
    assert crm_http.decode_json(body)["b"] == Decimal("0.10")  # read back without a float


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_a_non_finite_amount_is_refused(value: Decimal) -> None:
    with pytest.raises(ValueError):
        crm_http.encode_json({"price": value})


def test_both_clients_share_one_pool_per_process() -> None:
    assert b24_client.shared_http_client() is amo_client.shared_http_client()
    assert crm_http._shared_http is not None and crm_http._shared_http[0] == os.getpid()


@pytest.mark.parametrize(
    ("policy", "retry_after", "low", "high"),
    [
        # amoCRM: a 429's Retry-After is served, plus up to base_delay of jitter.
        (amo_client.RetryPolicy(max_total_wait=10), 3.0, 3.0, 3.25),
        # Bitrix24: our own 0.5 s is a floor under the full-jitter delay.
        (b24_client.RetryPolicy(), 0.5, 0.5, 0.5),
    ],
)
def test_a_wait_the_crm_asked_for_is_kept(
    policy: crm_http.RetryPolicy, retry_after: float, low: float, high: float
) -> None:
    delays = [policy.delay_before(1, 0.0, retry_after) for _ in range(200)]

    assert all(d is not None and low <= d <= high for d in delays)


@pytest.mark.parametrize("policy", [amo_client.RetryPolicy(), b24_client.RetryPolicy()])
def test_backoff_is_bounded_by_attempts_and_total_wait(policy: crm_http.RetryPolicy) -> None:
    for attempt in range(1, policy.max_attempts):
        delay = policy.delay_before(attempt, 0.0, None)
        ceiling = min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))
        assert delay is not None and 0 <= delay <= ceiling
    assert policy.delay_before(policy.max_attempts, 0.0, None) is None
    assert policy.delay_before(1, policy.max_total_wait, 0.01) is None


def test_attempts_sleep_between_and_raise_when_spent() -> None:
    slept: list[float] = []
    attempts = crm_http.CallAttempts(lambda n, waited, after: 0.1 if n < 3 else None, slept.append)
    error = CrmUnavailable("down")

    attempts.start()
    attempts.pause_or_raise(error, can_retry=True)
    attempts.start()
    attempts.not_counted()  # a refresh-and-repeat is not a backoff attempt
    attempts.start()
    attempts.pause_or_raise(error, can_retry=True)
    attempts.start()
    with pytest.raises(CrmUnavailable):
        attempts.pause_or_raise(error, can_retry=True)

    assert slept == [0.1, 0.1] and attempts.waited == pytest.approx(0.2)
    with pytest.raises(CrmUnavailable):
        crm_http.CallAttempts(lambda *a: 0.1, slept.append).pause_or_raise(error, can_retry=False)
    assert len(slept) == 2


class _Limiter:
    def __init__(self, answers: dict[str, bool | Exception]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def acquire(self, key: str, timeout: float) -> bool:
        self.asked.append(key)
        answer = self.answers[key]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_slots_are_taken_in_order_and_a_missing_one_stops_the_call() -> None:
    limiter = _Limiter({"shared": True, "account:1": False, "never": True})

    with pytest.raises(CrmRateLimited) as caught:
        crm_http.acquire_slots(limiter, ["shared", "account:1", "never"], 1.0)

    assert caught.value.code == "local_rate_limit"
    assert limiter.asked == ["shared", "account:1"]


@pytest.mark.parametrize(
    ("raised", "code"),
    [(ConnectionError("redis down"), "limiter_unavailable"), (CrmError("x", code="own"), "own")],
)
def test_a_broken_limiter_is_a_retryable_error(raised: Exception, code: str) -> None:
    with pytest.raises(CrmError) as caught:
        crm_http.acquire_slots(_Limiter({"k": raised}), ["k"], 1.0)

    assert caught.value.code == code


@pytest.mark.parametrize(
    ("exc", "repeatable", "can_retry"),
    [
        (httpx.ConnectError("refused"), False, True),  # never reached the CRM
        (httpx.ConnectTimeout("slow"), False, True),
        (httpx.ReadTimeout("slow"), False, False),  # may have been processed
        (httpx.ReadTimeout("slow"), True, True),
    ],
)
def test_a_call_without_an_answer_is_retried_only_when_safe(
    exc: httpx.HTTPError, repeatable: bool, can_retry: bool
) -> None:
    error, retry = crm_http.transport_failure(exc, vendor="amoCRM", repeatable=repeatable)

    assert retry is can_retry
    assert error.code == "network" and not error.permanent
    assert error.message.startswith("amoCRM ") and type(exc).__name__ in error.message


def test_a_redis_limiter_waits_for_a_slot_only_within_its_timeout() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    answers = iter([200_000, 200_000, 0])  # wait 0.2 s, again, then granted
    granted = crm_http.wait_for_slot(
        lambda key: next(answers), "k", 1.0, sleep=sleep, monotonic=lambda: now[0]
    )

    assert granted and len(slept) == 2 and all(0.2 <= s <= 0.205 for s in slept)
    assert not crm_http.wait_for_slot(
        lambda key: 2_000_000, "k", 1.0, sleep=sleep, monotonic=lambda: now[0]
    )
    assert len(slept) == 2  # a 2 s wait is not started with 1 s to go
