"""Bitrix24's deal tab against a portal of the fake Bitrix24 (tests/fakes/bitrix24.py).

The portal's installation is the stored one the placement view and the frame auth look up
(``frame_target_find``): until CrmConnection.account_id holds a portal's ``member_id`` (a
string) and its sealed ``application_token`` (issue 17, the core's part), the tests hand the
lookup a connection built from the fake's own values; everything after it is the real code."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from crm_connectors.amocrm.oauth import InMemoryTokenStore
from crm_connectors.app import FrameInstallation
from crm_connectors.base import OAuthTokens
from crm_connectors.bitrix24 import client as b24_client
from crm_connectors.bitrix24.connector import Bitrix24Connector
from crm_connectors.bitrix24.ratelimit import NullBitrixLimiter
from franchise_platform.crm_sync import frame_auth, placement
from franchise_platform.crm_sync.frame_auth import FrameTarget
from franchise_platform.crm_sync.models import CrmConnection
from tests.fakes.bitrix24 import FakeBitrix24
from tests.personas import PersonaNetwork

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
    lookups: list[str]

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


def _connector(b24: FakeBitrix24, member_id: str) -> Bitrix24Connector:
    pair = b24.issue_tokens(member_id)
    return Bitrix24Connector(
        portal=b24_client.Bitrix24Portal(member_id, f"https://{DOMAIN}/rest/"),
        token_store=InMemoryTokenStore(
            OAuthTokens(
                pair["access_token"], pair["refresh_token"], datetime.now(UTC) + timedelta(hours=1)
            )
        ),
        limiter=NullBitrixLimiter(),
        client_id=b24.client_id,
        client_secret=b24.client_secret,
        oauth_override=b24.base_url,
        client_options=b24_client.Bitrix24ClientOptions(api_base_url=b24.base_url),
    )


def install_portal(
    monkeypatch: pytest.MonkeyPatch, b24: FakeBitrix24, net: PersonaNetwork
) -> Portal:
    member_id = b24.add_portal(domain=DOMAIN)
    lookups: list[str] = []
    real_find = frame_auth.frame_target_find
    connection = CrmConnection(crm="bitrix24", subdomain=DOMAIN, base_url=f"https://{DOMAIN}/rest/")

    def find(*, crm: str, account_id: str) -> FrameTarget | None:
        lookups.append(account_id)
        if crm != "bitrix24" or account_id != member_id:
            return real_find(crm=crm, account_id=account_id)
        return FrameTarget(
            network=net.network,
            connection=connection,
            installation=FrameInstallation(
                account_id=member_id,
                base_url=f"https://{DOMAIN}",
                application_token=b24.application_token(member_id),
            ),
        )

    connector: Callable[..., Any] = lambda conn, **kw: _connector(b24, member_id)  # noqa: E731
    monkeypatch.setattr(placement, "frame_target_find", find)
    monkeypatch.setattr(frame_auth, "frame_target_find", find)
    monkeypatch.setattr(placement, "connector_for", connector)
    return Portal(b24=b24, member_id=member_id, net=net, lookups=lookups)


@pytest.fixture
def portal(monkeypatch, b24_server, net_a) -> Portal:
    return install_portal(monkeypatch, b24_server, net_a)
