"""A fake amoCRM (real HTTP on loopback) wired into settings, and a connected network."""

from __future__ import annotations

from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import redis
from django.utils import timezone
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import CrmConnection, OutboxMessage, OutboxStatus
from franchise_platform.crm_sync.sender import outbox_message_send
from tests.fakes.bitrix24 import FakeBitrix24
from tests.personas import platform_client


@pytest.fixture
def amo(amo_server, settings):
    settings.AMOCRM_API_BASE_URL = amo_server.base_url
    amo_server.clear_failures()
    yield amo_server
    amo_server.clear_failures()


def oauth_connect(persona, amo, account_id, *, browser=None):
    """The owner's one click: connect URL → consent (fake) → Redirect URI on the platform host →
    the network's panel, where the person who asked (signed in, `browser`) finishes."""
    response = persona.api().post("/api/v1/crm/amocrm/connect")
    assert response.status_code == 200, response.content
    state = parse_qs(urlsplit(response.json()["authorize_url"]).query)["state"][0]
    return oauth_callback(persona, amo, account_id, state, browser=browser)


def oauth_callback(persona, amo, account_id, state, *, browser=None):
    """amoCRM's redirect with a fresh code for `account_id`, followed into the panel."""
    code = amo.authorize(account_id)
    subdomain = amo.accounts[account_id].subdomain
    callback = platform_client().get(
        "/integrations/amocrm/oauth/callback/",
        {"code": code, "state": state, "referer": f"{subdomain}.amocrm.ru"},
    )
    if callback.status_code != 302:
        return callback
    return follow_to_panel(browser or persona.browser_client(), callback["Location"])


def follow_to_panel(client, location):
    """GET an absolute network-host URL with a test client that is on that host already."""
    parts = urlsplit(location)
    return client.get(parts.path, dict(parse_qsl(parts.query)))


def outbox_drain(network, *, rounds: int = 3) -> int:
    """Send every due outbox message of the network now (what the worker would do)."""
    sent = 0
    with tenant_context(network):
        for _ in range(rounds):
            pending = list(
                OutboxMessage.objects.filter(status=OutboxStatus.PENDING).values_list(
                    "pk", flat=True
                )
            )
            if not pending:
                break
            for pk in pending:
                OutboxMessage.objects.filter(pk=pk).update(next_attempt_at=timezone.now())
                outbox_message_send(message_id=str(pk))
                sent += 1
    return sent


@pytest.fixture
def connected(net_a, amo):
    """Network A connected to a fresh fake amoCRM account, fields created."""
    account_id = amo.add_account()
    response = oauth_connect(net_a.owner, amo, account_id)
    assert response.status_code == 200, response.content.decode()
    outbox_drain(net_a.network)
    with tenant_context(net_a.network):
        crm = CrmConnection.objects.get(account_id=account_id)
    return net_a, account_id, crm


@pytest.fixture
def clock(tmp_path, settings, monkeypatch):
    """The sender's clock, moved by the test (tests/fakes/clock.py)."""
    from tests.fakes.clock import ENV, SharedClock

    path = tmp_path / "clock"
    monkeypatch.setenv(ENV, str(path))
    settings.CRM_SYNC_CLOCK = "tests.fakes.clock.shared_now"
    return SharedClock(path)


@pytest.fixture
def no_wakeups(monkeypatch):
    """Celery wake-ups recorded instead of queued: the test plays worker and sweeper itself."""
    from franchise_platform.crm_sync import tasks

    queued: list[tuple[str, float]] = []
    monkeypatch.setattr(
        tasks.outbox_send,
        "apply_async",
        lambda args, countdown=0: queued.append((args[0], countdown)),
    )
    monkeypatch.setattr(tasks.outbox_send, "delay", lambda *a: queued.append((a[0], 0)))
    return queued


@pytest.fixture
def instant_in_call_retries(monkeypatch):
    """The client's in-call backoff without its real sleeps (the schedule itself is tested in
    tests/crm_connectors)."""
    from crm_connectors.amocrm.client import AmoClient

    original = AmoClient._backoff

    def backoff(self, attempt, waited, retry_after):
        return None if original(self, attempt, waited, retry_after) is None else 0.0

    monkeypatch.setattr(AmoClient, "_backoff", backoff)


@pytest.fixture(scope="session")
def b24_server():
    """The strict fake Bitrix24 (portals + OAuth server) on loopback."""
    with FakeBitrix24(seed=17) as fake:
        yield fake


@pytest.fixture
def b24(b24_server, settings):
    """The fake wired into settings as the app's keys and every portal's address."""
    settings.BITRIX24_CLIENT_ID = b24_server.client_id
    settings.BITRIX24_CLIENT_SECRET = b24_server.client_secret
    settings.BITRIX24_API_BASE_URL = b24_server.base_url
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("*bitrix24-install:*"):
        client.delete(key)
    return b24_server
