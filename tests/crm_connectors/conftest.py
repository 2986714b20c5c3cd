"""Fixtures for the CRM connector tests: a real Redis (DB 15, our own key prefix) and the fakes
of amoCRM and Bitrix24 served over HTTP, with a connector builder for each. Plain pytest, no
Django."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from crm_connectors.amocrm.client import AmoClientOptions, RetryPolicy
from crm_connectors.amocrm.connector import AmoCrmConnector
from crm_connectors.amocrm.oauth import InMemoryTokenStore
from crm_connectors.amocrm.ratelimit import NullRateLimiter
from crm_connectors.base import CrmAccountRef, OAuthTokens, RateLimiter, TokenStore
from crm_connectors.bitrix24 import client as b24_client
from crm_connectors.bitrix24.connector import Bitrix24Connector
from crm_connectors.bitrix24.ratelimit import NullBitrixLimiter
from tests.fakes.amocrm import FakeAmoCrm
from tests.fakes.bitrix24 import FakeBitrix24

from .support import Sleeps, tokens_from

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


# -- Bitrix24 ---------------------------------------------------------------------------------


@pytest.fixture
def b24() -> Iterator[FakeBitrix24]:
    with FakeBitrix24(seed=11) as fake:
        yield fake


@pytest.fixture
def member_id(b24: FakeBitrix24) -> str:
    return b24.add_portal(domain="acme.bitrix24.com")


@pytest.fixture
def make_b24_connector(
    b24: FakeBitrix24, member_id: str, sleeps: Sleeps
) -> Callable[..., Bitrix24Connector]:
    """A connector to a portal of the fake (``portal``: its member_id, the fixture's by default)."""

    def build(
        *,
        store: TokenStore | None = None,
        limiter: RateLimiter | None = None,
        retry: b24_client.RetryPolicy | None = None,
        portal: str | None = None,
        **kwargs: Any,
    ) -> Bitrix24Connector:
        member = portal or member_id
        return Bitrix24Connector(
            portal=b24_client.Bitrix24Portal(member, f"https://{b24.portal(member).domain}/rest/"),
            token_store=store or InMemoryTokenStore(tokens_from(b24.issue_tokens(member))),
            limiter=limiter or NullBitrixLimiter(),
            client_id=b24.client_id,
            client_secret=b24.client_secret,
            oauth_override=b24.base_url,
            client_options=b24_client.Bitrix24ClientOptions(
                api_base_url=b24.base_url, retry=retry or b24_client.RetryPolicy()
            ),
            sleep=kwargs.pop("sleep", sleeps),
            **kwargs,
        )

    return build


@pytest.fixture
def b24_connector(make_b24_connector: Callable[..., Bitrix24Connector]) -> Bitrix24Connector:
    return make_b24_connector()
