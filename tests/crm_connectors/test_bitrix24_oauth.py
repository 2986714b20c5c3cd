"""Bitrix24 installs and OAuth against the fake: nothing a POST claims is stored unproven."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from crm_connectors.bitrix24 import oauth
from crm_connectors.bitrix24.oauth import InstallRejected
from crm_connectors.errors import CrmAuthError
from tests.fakes.bitrix24 import FakeBitrix24


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def complete(
    b24: FakeBitrix24, http: httpx.Client, request: oauth.InstallRequest
) -> oauth.Installation:
    return oauth.complete_install(
        http,
        request,
        client_id=b24.client_id,
        client_secret=b24.client_secret,
        oauth_override=b24.base_url,
        api_base_url=b24.base_url,
    )


def with_field(body: bytes, key: str, value: str) -> bytes:
    fields = dict(parse_qsl(body.decode()))
    fields[key] = value
    return urlencode(fields).encode()


def test_install_callback_is_confirmed_at_the_oauth_server(
    b24: FakeBitrix24, member_id: str, http: httpx.Client
) -> None:
    posted = b24.install_callback(member_id)
    request = oauth.parse_install_callback(posted)

    installation = complete(b24, http, request)

    assert installation.member_id == member_id
    assert installation.client_endpoint == "https://acme.bitrix24.com/rest/"
    assert installation.application_token == b24.application_token(member_id)
    assert installation.scope == ("crm", "placement", "user_brief")
    assert installation.user_id == 1
    # The posted pair was spent once; the stored pair is the server's new one.
    assert b24.refresh_count(member_id) == 1
    assert (
        installation.tokens.refresh_token != dict(parse_qsl(posted.decode()))["auth[refresh_token]"]
    )


def test_forged_install_with_made_up_tokens_is_refused(
    b24: FakeBitrix24, member_id: str, http: httpx.Client
) -> None:
    forged = with_field(b24.install_callback(member_id), "auth[refresh_token]", "f" * 32)

    with pytest.raises(CrmAuthError) as caught:
        complete(b24, http, oauth.parse_install_callback(forged))

    assert caught.value.code == "invalid_grant"


def test_install_naming_another_portal_is_refused(b24: FakeBitrix24, http: httpx.Client) -> None:
    mine = b24.add_portal(domain="mine.bitrix24.com")
    victim = b24.add_portal(domain="victim.bitrix24.com")
    # My own valid tokens, but the POST claims to be the victim's portal.
    forged = with_field(b24.install_callback(mine), "auth[member_id]", victim)

    with pytest.raises(CrmAuthError) as caught:
        complete(b24, http, oauth.parse_install_callback(forged))

    assert caught.value.code == "wrong_portal"


def test_install_by_a_user_who_is_not_an_admin_is_refused(
    b24: FakeBitrix24, member_id: str, http: httpx.Client
) -> None:
    # Any user gets live tokens in every frame POST; with them and a made-up application token
    # they could otherwise "re-install" the app and take over event verification.
    query, form = b24.installer_frame(member_id, user_id=42)
    forged = oauth.parse_installer_frame(query, with_field(form, "APPLICATION_TOKEN", "e" * 32))

    with pytest.raises(InstallRejected) as caught:
        complete(b24, http, forged)

    assert caught.value.code == "not_admin"
    b24.portal(member_id).admins.add(42)
    assert complete(
        b24, http, oauth.parse_installer_frame(*b24.installer_frame(member_id, user_id=42))
    )


def test_installer_frame_is_parsed_and_confirmed(
    b24: FakeBitrix24, member_id: str, http: httpx.Client
) -> None:
    query, form = b24.installer_frame(member_id)

    request = oauth.parse_installer_frame(query, form)
    installation = complete(b24, http, request)

    assert request.source == "frame"
    assert request.domain == "acme.bitrix24.com"
    assert installation.member_id == member_id
    assert installation.application_token == b24.application_token(member_id)


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("auth[member_id]", "not-a-member", "bad_member_id"),
        ("auth[domain]", "evil.example/x", "bad_domain"),
        ("auth[application_token]", "", "no_application_token"),
        ("auth[refresh_token]", "", "no_refresh_token"),
        ("event", "ONCRMDEALUPDATE", "not_an_install"),
    ],
)
def test_unusable_install_posts_are_rejected(
    b24: FakeBitrix24, member_id: str, key: str, value: str, code: str
) -> None:
    with pytest.raises(InstallRejected) as caught:
        oauth.parse_install_callback(with_field(b24.install_callback(member_id), key, value))

    assert caught.value.code == code


def test_refresh_rotates_and_the_old_refresh_token_dies(
    b24: FakeBitrix24, member_id: str, http: httpx.Client
) -> None:
    pair = b24.issue_tokens(member_id)
    kwargs = {"client_id": b24.client_id, "client_secret": b24.client_secret}

    grant = oauth.refresh_tokens(http, b24.base_url, refresh_token=pair["refresh_token"], **kwargs)

    assert grant.member_id == member_id
    assert grant.tokens.refresh_token != pair["refresh_token"]
    with pytest.raises(CrmAuthError) as caught:
        oauth.refresh_tokens(http, b24.base_url, refresh_token=pair["refresh_token"], **kwargs)
    assert caught.value.code == "invalid_grant"


def test_wrong_client_secret_is_an_auth_error(
    b24: FakeBitrix24, member_id: str, http: httpx.Client
) -> None:
    pair = b24.issue_tokens(member_id)

    with pytest.raises(CrmAuthError) as caught:
        oauth.refresh_tokens(
            http,
            b24.base_url,
            client_id=b24.client_id,
            client_secret="wrong",
            refresh_token=pair["refresh_token"],
        )

    assert caught.value.code == "invalid_client"


def test_authorization_code_is_exchanged_once(
    b24: FakeBitrix24, member_id: str, http: httpx.Client
) -> None:
    code = b24.authorize(member_id)
    kwargs = {"client_id": b24.client_id, "client_secret": b24.client_secret, "code": code}

    grant = oauth.exchange_code(http, b24.base_url, **kwargs)

    assert grant.member_id == member_id
    assert grant.client_endpoint == "https://acme.bitrix24.com/rest/"
    with pytest.raises(CrmAuthError):
        oauth.exchange_code(http, b24.base_url, **kwargs)


def test_refresher_refuses_an_answer_for_another_portal(
    b24: FakeBitrix24, member_id: str, http: httpx.Client
) -> None:
    other = b24.add_portal(domain="other.bitrix24.com")
    stored = oauth.grant_of(b24.issue_tokens(other), now=datetime.now(UTC)).tokens
    rotate = oauth.make_refresher(
        http,
        b24.base_url,
        client_id=b24.client_id,
        client_secret=b24.client_secret,
        member_id=member_id,
    )

    with pytest.raises(CrmAuthError) as caught:
        rotate(stored)

    assert caught.value.code == "wrong_portal"


def test_token_requests_never_log_the_secret_or_tokens(
    b24: FakeBitrix24, member_id: str, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    pair = b24.issue_tokens(member_id)
    caplog.set_level(logging.INFO)

    grant = oauth.refresh_tokens(
        http,
        b24.base_url,
        client_id=b24.client_id,
        client_secret=b24.client_secret,
        refresh_token=pair["refresh_token"],
    )

    text = caplog.text
    assert "/oauth/token/" in text  # httpx did log the request…
    for secret in (b24.client_secret, pair["refresh_token"], grant.tokens.refresh_token):
        assert secret not in text  # …with its query masked


def test_only_allow_listed_oauth_servers_are_used() -> None:
    assert oauth.oauth_server("https://oauth.bitrix24.tech/rest/") == "https://oauth.bitrix24.tech"
    assert oauth.oauth_server(None) == "https://oauth.bitrix.info"
    for forged in (
        "https://evil.example/rest/",
        "http://oauth.bitrix.info/rest/",
        "https://oauth.bitrix.info:8443/rest/",
        "https://user@oauth.bitrix.info/rest/",
    ):
        assert oauth.oauth_server(forged) == "https://oauth.bitrix.info"


def test_authorize_url_names_the_portal_and_state() -> None:
    url = oauth.build_authorize_url("Acme.Bitrix24.com", "app.1", "st4te")

    assert url == "https://acme.bitrix24.com/oauth/authorize/?client_id=app.1&state=st4te"
    with pytest.raises(ValueError):
        oauth.build_authorize_url("evil.example/path?", "app.1", "s")


def test_uninstall_is_verified_by_the_application_token(b24: FakeBitrix24, member_id: str) -> None:
    request = oauth.parse_uninstall(b24.uninstall_form(member_id, clean=True))

    assert request is not None
    assert request.member_id == member_id
    assert request.clean is True
    assert oauth.same_application_token(request.application_token, b24.application_token(member_id))
    assert not oauth.same_application_token("0" * 32, b24.application_token(member_id))
    assert not oauth.same_application_token(request.application_token, "")
    assert oauth.parse_uninstall(b"event=ONAPPUNINSTALL&auth%5Bmember_id%5D=x") is None
