"""A fake amoCRM (real HTTP on loopback) wired into settings, and a connected network."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import CrmConnection, OutboxMessage, OutboxStatus
from franchise_platform.crm_sync.sender import outbox_message_send
from tests.personas import platform_client


@pytest.fixture
def amo(amo_server, settings):
    settings.AMOCRM_API_BASE_URL = amo_server.base_url
    amo_server.clear_failures()
    yield amo_server
    amo_server.clear_failures()


def oauth_connect(persona, amo, account_id):
    """The owner's one click: connect URL → consent (fake) → Redirect URI on the platform host."""
    response = persona.api().post("/api/v1/crm/amocrm/connect")
    assert response.status_code == 200, response.content
    state = parse_qs(urlsplit(response.json()["authorize_url"]).query)["state"][0]
    code = amo.authorize(account_id)
    subdomain = amo.accounts[account_id].subdomain
    return platform_client().get(
        "/integrations/amocrm/oauth/callback/",
        {"code": code, "state": state, "referer": f"{subdomain}.amocrm.ru"},
    )


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
