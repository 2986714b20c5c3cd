"""Bitrix24 as the core sees it: the registry's CrmApp and connector, an install posted and
confirmed at the (fake) OAuth server, events verified by the install's application_token."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from crm_connectors.amocrm.oauth import InMemoryTokenStore
from crm_connectors.app import ConnectorTarget, InstallRefusedByApp
from crm_connectors.bitrix24.connector import Bitrix24Connector
from crm_connectors.bitrix24.ratelimit import NullBitrixLimiter
from crm_connectors.errors import CrmAuthError
from crm_connectors.registry import crm_app, get_connector
from tests.fakes.bitrix24 import FakeBitrix24

from .support import tokens_from


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def test_the_registry_declares_bitrix24_with_string_identifiers() -> None:
    app = crm_app("bitrix24")

    assert app.slug == "bitrix24"
    assert app.settings_prefix == "BITRIX24"
    assert app.install is not None and app.events is not None
    assert app.account_key(" A223C6B3710F85DF22E9377D6C4F7553 ") == (
        "a223c6b3710f85df22e9377d6c4f7553"
    )
    for bad in ("42", "x" * 32, "", None, 7):
        with pytest.raises(ValueError):
            app.account_key(bad)
    # amoCRM's ids stay integers, handled as their decimal strings.
    assert crm_app("amocrm").account_key(31337) == "31337"
    assert crm_app("amocrm").account_key("0031337") == "31337"
    with pytest.raises(ValueError):
        crm_app("amocrm").account_key("a223c6b3710f85df22e9377d6c4f7553")


def test_stored_hosts_are_checked_again() -> None:
    oauth = crm_app("bitrix24").oauth

    assert oauth.stored_account_host("https://acme.bitrix24.com") == "acme.bitrix24.com"
    assert oauth.account_origin("ACME.bitrix24.com") == "https://acme.bitrix24.com"
    for bad in ("http://acme.bitrix24.com", "https://acme.bitrix24.com:8443", "https://a/b"):
        with pytest.raises(ValueError):
            oauth.stored_account_host(bad)
    with pytest.raises(ValueError):
        oauth.authorize_url("client", "state")
    assert not oauth.verify_uninstall("u", "a" * 32, "sig", "secret", "client")


def test_the_connector_is_built_from_the_core_target(b24: FakeBitrix24, member_id: str) -> None:
    app = crm_app("bitrix24")
    kwargs = app.connector_kwargs(
        ConnectorTarget(
            account_id=member_id,
            base_url="https://acme.bitrix24.com",
            api_base_url=b24.base_url,
            redirect_uri="https://platform.example.com/integrations/bitrix24/oauth/callback/",
        )
    )
    connector = get_connector(
        "bitrix24",
        token_store=InMemoryTokenStore(tokens_from(b24.issue_tokens(member_id))),
        limiter=NullBitrixLimiter(),
        client_id=b24.client_id,
        client_secret=b24.client_secret,
        client_options=app.client_options("background:x", 1.0),
        **kwargs,
    )

    assert isinstance(connector, Bitrix24Connector)
    assert connector.client.portal.domain == "acme.bitrix24.com"
    assert connector.client.options.extra_limit_keys == ("background:x",)
    deal_id = b24.add_deal(member_id, title="Квест", opportunity="5000")
    fields = connector.ensure_fields([], None)
    assert connector.read_lead(deal_id, fields).lead_id == deal_id


def test_an_install_is_parsed_then_confirmed(
    b24: FakeBitrix24, member_id: str, http: httpx.Client
) -> None:
    app = crm_app("bitrix24")
    assert app.install is not None
    info = app.install.parse({}, b24.install_callback(member_id))
    assert info.account_id == member_id

    installed = app.install.complete(
        http,
        info,
        client_id=b24.client_id,
        client_secret=b24.client_secret,
        api_base_url=b24.base_url,
    )

    assert installed.account_id == member_id
    assert installed.base_url == "https://acme.bitrix24.com"
    assert installed.application_token == b24.application_token(member_id)
    assert installed.tokens.refresh_token


def test_the_installer_frame_is_an_install_too(b24: FakeBitrix24, member_id: str) -> None:
    app = crm_app("bitrix24")
    assert app.install is not None
    query, body = b24.installer_frame(member_id)

    assert app.install.parse(query, body).account_id == member_id


@pytest.mark.parametrize(
    "body",
    [b"", b"event=ONCRMDEALUPDATE", b"event=ONAPPINSTALL&auth[member_id]=zz", b"\xff\xfe" * 10],
)
def test_a_malformed_install_is_refused(body: bytes) -> None:
    app = crm_app("bitrix24")
    assert app.install is not None
    with pytest.raises(InstallRefusedByApp):
        app.install.parse({}, body)


def test_a_forged_install_fails_at_the_oauth_server(
    b24: FakeBitrix24, member_id: str, http: httpx.Client
) -> None:
    app = crm_app("bitrix24")
    assert app.install is not None
    fields = dict(parse_qsl(b24.install_callback(member_id).decode()))
    fields["auth[refresh_token]"] = "f" * 32
    info = app.install.parse({}, urlencode(fields).encode())

    with pytest.raises(CrmAuthError):
        app.install.complete(
            http,
            info,
            client_id=b24.client_id,
            client_secret=b24.client_secret,
            api_base_url=b24.base_url,
        )


def test_events_are_parsed_and_verified_by_the_application_token(
    b24: FakeBitrix24, member_id: str
) -> None:
    app = crm_app("bitrix24")
    assert app.events is not None
    token = b24.application_token(member_id)

    update = app.events.parse(b24.event_form(member_id, "ONCRMDEALUPDATE", 7001))
    assert update is not None and update.kind == "lead" and update.lead_ids == (7001,)
    assert app.events.verify(update.application_token, token)

    forged = app.events.parse(
        b24.event_form(member_id, "ONCRMDEALUPDATE", 7001, application_token="0" * 32)
    )
    assert forged is not None and not app.events.verify(forged.application_token, token)
    assert not app.events.verify(token, "")

    gone = app.events.parse(b24.uninstall_form(member_id))
    assert gone is not None and gone.kind == "uninstall" and gone.account_id == member_id
    assert app.events.parse(b"junk") is None
