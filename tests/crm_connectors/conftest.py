"""Fixtures for the CRM connector tests: a real Redis (DB 15, our own key prefix) and the fake
amoCRM served over HTTP. Plain pytest, no Django."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from crm_connectors.amocrm.client import AmoClientOptions, RetryPolicy
from crm_connectors.amocrm.connector import AmoCrmConnector
from crm_connectors.amocrm.oauth import InMemoryTokenStore
from crm_connectors.amocrm.ratelimit import NullRateLimiter
from crm_connectors.base import CrmAccountRef, OAuthTokens, RateLimiter, TokenStore
from tests.fakes.amocrm import FakeAmoCrm

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    prefix = f"test:crmconn:{uuid.uuid4().hex}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def redis_client(redis_prefix: str) -> Iterator[redis.Redis[bytes]]:
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def fake() -> Iterator[FakeAmoCrm]:
    with FakeAmoCrm(seed=1234) as amo:
        yield amo


@pytest.fixture
def account_id(fake: FakeAmoCrm) -> int:
    return fake.add_account(subdomain="chezaquest")


def tokens_from(pair: dict[str, Any], *, expires_at: datetime | None = None) -> OAuthTokens:
    return OAuthTokens(
        access_token=pair["access_token"],
        refresh_token=pair["refresh_token"],
        expires_at=expires_at or datetime.now(UTC) + timedelta(seconds=pair["expires_in"]),
    )


class Sleeps:
    """Records backoff sleeps instead of sleeping, so tests stay fast and can assert bounds."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_connector(
    fake: FakeAmoCrm, account_id: int, sleeps: Sleeps
) -> Callable[..., AmoCrmConnector]:

    def build(
        *,
        store: TokenStore | None = None,
        limiter: RateLimiter | None = None,
        account: int | None = None,
        retry: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> AmoCrmConnector:
        acc = account or account_id
        connector = AmoCrmConnector(
            account=CrmAccountRef(account_id=acc, base_url=fake.base_url),
            token_store=store or InMemoryTokenStore(tokens_from(fake.issue_tokens(acc))),
            limiter=limiter or NullRateLimiter(),
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            redirect_uri=fake.redirect_uri,
            client_options=kwargs.pop("client_options", None)
            or AmoClientOptions(retry=retry or RetryPolicy()),
            sleep=kwargs.pop("sleep", sleeps),
            **kwargs,
        )
        return connector

    return build


@pytest.fixture
def connector(make_connector: Callable[..., AmoCrmConnector]) -> AmoCrmConnector:
    return make_connector()


@pytest.fixture
def make_tokens() -> Callable[..., OAuthTokens]:
    return tokens_from
