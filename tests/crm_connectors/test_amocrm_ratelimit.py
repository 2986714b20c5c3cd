"""The shared limiter: never more than 7 grants in any second, across threads and processes."""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time
from collections.abc import Callable

import redis

from crm_connectors.amocrm.client import AmoClientOptions
from crm_connectors.amocrm.connector import AmoCrmConnector
from crm_connectors.amocrm.ratelimit import NullRateLimiter, RedisRateLimiter
from crm_connectors.errors import CrmRateLimited
from tests.fakes.amocrm import FakeAmoCrm

from .conftest import REDIS_URL
from .support import most_within, run_in_threads


def test_threads_never_get_more_than_seven_slots_a_second(
    redis_client: redis.Redis[bytes], redis_prefix: str
) -> None:
    limiter = RedisRateLimiter(redis_client, prefix=redis_prefix)
    granted: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(4):
            assert limiter.acquire("account:1", timeout=10)
            with lock:
                granted.append(time.monotonic())

    run_in_threads(worker, [()] * 6, timeout=30)

    assert len(granted) == 24
    assert most_within(granted) <= 7
    assert max(granted) - min(granted) >= 3.0  # 24 slots at 7/s need at least three windows


def test_keys_have_separate_budgets(redis_client: redis.Redis[bytes], redis_prefix: str) -> None:
    limiter = RedisRateLimiter(redis_client, prefix=redis_prefix)

    for _ in range(7):
        assert limiter.acquire("account:1", timeout=0)
    assert limiter.acquire("account:2", timeout=0)
    assert not limiter.acquire("account:1", timeout=0.1)


def test_acquire_gives_up_at_the_timeout(
    redis_client: redis.Redis[bytes], redis_prefix: str
) -> None:
    limiter = RedisRateLimiter(redis_client, rate=1, period=5, prefix=redis_prefix)
    assert limiter.acquire("k", timeout=1)

    started = time.monotonic()
    assert not limiter.acquire("k", timeout=0.3)
    assert time.monotonic() - started < 0.5


def _process_worker(prefix: str, count: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    client = redis.Redis.from_url(REDIS_URL)
    limiter = RedisRateLimiter(client, prefix=prefix)
    for _ in range(count):
        if limiter.acquire("account:shared", timeout=20):
            out.put(time.time())
    client.close()


def test_processes_share_the_budget(redis_prefix: str) -> None:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    workers = [
        context.Process(target=_process_worker, args=(redis_prefix, 5, out)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    granted = [out.get(timeout=60) for _ in range(20)]
    for worker in workers:
        worker.join(30)

    assert most_within(granted) <= 7


def test_connector_calls_through_the_limiter_stay_under_the_fake_limit(
    fake: FakeAmoCrm,
    account_id: int,
    make_connector: Callable[..., AmoCrmConnector],
    redis_client: redis.Redis[bytes],
    redis_prefix: str,
) -> None:
    fake.set_lead(account_id, 1, 100)
    limiter = RedisRateLimiter(redis_client, prefix=redis_prefix)
    # One connector per thread, as separate Celery workers would have.
    connectors = [
        make_connector(limiter=limiter, client_options=AmoClientOptions(limiter_timeout=10))
        for _ in range(4)
    ]
    errors: list[BaseException] = []

    def worker(connector: AmoCrmConnector) -> None:
        try:
            for _ in range(6):
                connector.client.get("/api/v4/leads/1")
        except BaseException as exc:
            errors.append(exc)

    run_in_threads(worker, [(c,) for c in connectors], timeout=60)

    assert errors == []
    assert fake.max_rps_seen(account_id) <= 7
    assert all(r.status == 200 for r in fake.api_requests(account_id))


def test_without_the_limiter_the_fake_pushes_back(
    fake: FakeAmoCrm, account_id: int, make_connector: Callable[..., AmoCrmConnector]
) -> None:
    connector = make_connector(limiter=NullRateLimiter())

    def call() -> None:
        with contextlib.suppress(CrmRateLimited):
            connector.client.get("/api/v4/account")

    run_in_threads(call, [()] * 12, timeout=30)

    assert any(r.status == 429 for r in fake.api_requests(account_id))
