"""Bitrix24's deal tab against a portal of the fake Bitrix24 (tests/fakes/bitrix24.py).

The portal is installed the way a real one is: the fake posts its ONAPPINSTALL to the platform's
install callback, a network claims it with the portal's claim code and the deal fields are created
(the outbox drained as the worker would). Nothing after that is patched: the placement view and
the frame auth find the stored installation (``frame_target_find``), the widget API reads the
portal's deal through the network's own connection (``connector_for``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import pytest
import redis
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import CrmConnection
from tenants.claims import account_claim, claim_code_issue
from tests.crm_sync.conftest import outbox_drain
from tests.fakes.bitrix24 import FakeBitrix24
from tests.personas import PersonaNetwork, platform_client

DOMAIN = "acme.bitrix24.com"


@pytest.fixture(scope="session")
def b24_server() -> Iterator[FakeBitrix24]:
    with FakeBitrix24(seed=17) as fake:
        yield fake


@dataclass
class Portal:
    b24: FakeBitrix24
    member_id: str
    net: PersonaNetwork

    def frame(self, deal_id: int, **changes: str | None) -> tuple[dict[str, str], bytes]:
        """The deal tab's frame POST (query, body) with fields changed (None: removed)."""
        query, body = self.b24.placement_frame(self.member_id, deal_id)
        fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
        for key, value in changes.items():
            target = query if key in query else fields
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
        return query, urlencode(fields).encode()


def b24_settings(b24: FakeBitrix24) -> dict[str, str]:
    """The app's keys and every portal's address: the fake's."""
    return {
        "BITRIX24_CLIENT_ID": b24.client_id,
        "BITRIX24_CLIENT_SECRET": b24.client_secret,
        "BITRIX24_API_BASE_URL": b24.base_url,
    }


def install_portal(b24: FakeBitrix24, net: PersonaNetwork) -> Portal:
    """A portal of ``DOMAIN`` installed through the install callback and claimed by ``net``,
    its deal fields created (a location the network already has gets its option). The app's
    settings must be the fake's (``b24_settings``)."""
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("*bitrix24-install:*"):
        client.delete(key)
    member_id = b24.add_portal(domain=DOMAIN)
    installed = platform_client().post(
        "/integrations/bitrix24/install/",
        b24.install_callback(member_id),
        content_type="application/x-www-form-urlencoded",
        REMOTE_ADDR="203.0.113.10",
    )
    assert installed.status_code == 200, installed.content
    code = claim_code_issue(crm="bitrix24", account_id=member_id, user_id=1, is_admin=None)
    account_claim(network=net.network, code=code.code, actor=net.owner.email)
    outbox_drain(net.network)
    with tenant_context(net.network):
        assert CrmConnection.objects.get(crm="bitrix24", account_id=member_id).field_map
    return Portal(b24=b24, member_id=member_id, net=net)


@pytest.fixture
def portal(settings, b24_server, net_a) -> Portal:
    for key, value in b24_settings(b24_server).items():
        setattr(settings, key, value)
    return install_portal(b24_server, net_a)
