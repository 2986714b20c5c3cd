"""The deal-card tab proves who calls: stored portal, application token, deal id, live AUTH_ID."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

import pytest

from crm_connectors.amocrm.oauth import InMemoryTokenStore
from crm_connectors.base import OAuthTokens
from crm_connectors.bitrix24.client import Bitrix24ClientOptions, Bitrix24Portal
from crm_connectors.bitrix24.connector import Bitrix24Connector
from crm_connectors.bitrix24.frame_token import issue_frame_token, verify_frame_token
from crm_connectors.bitrix24.placement import (
    KnownInstallation,
    PlacementVerdict,
    current_user_id,
    placement_options,
    prove_auth_id,
    verify_placement,
)
from crm_connectors.bitrix24.ratelimit import NullBitrixLimiter
from crm_connectors.errors import WidgetTokenError
from tests.fakes.bitrix24 import FakeBitrix24

Installs = dict[str, KnownInstallation]


@pytest.fixture
def installations(b24: FakeBitrix24, member_id: str) -> Installs:
    return {
        member_id: KnownInstallation(
            member_id, "https://acme.bitrix24.com/rest/", b24.application_token(member_id)
        )
    }


def edited(form: bytes, **changes: str | None) -> bytes:
    fields = dict(parse_qsl(form.decode(), keep_blank_values=True))
    for key, value in changes.items():
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    return urlencode(fields).encode()


def connector_for(b24: FakeBitrix24, member_id: str) -> Bitrix24Connector:
    pair = b24.issue_tokens(member_id)
    return Bitrix24Connector(
        portal=Bitrix24Portal(member_id, f"https://{b24.portal(member_id).domain}/rest/"),
        token_store=InMemoryTokenStore(
            OAuthTokens(
                pair["access_token"], pair["refresh_token"], datetime.now(UTC) + timedelta(hours=1)
            )
        ),
        limiter=NullBitrixLimiter(),
        client_id=b24.client_id,
        client_secret=b24.client_secret,
        oauth_override=b24.base_url,
        client_options=Bitrix24ClientOptions(api_base_url=b24.base_url),
    )


def test_genuine_deal_tab_frame_is_verified(
    b24: FakeBitrix24, member_id: str, installations: Installs
) -> None:
    deal = b24.add_deal(member_id)
    query, form = b24.placement_frame(member_id, deal, user_id=7)

    verdict = verify_placement(query, form, installations.get)

    assert verdict.member_id == member_id
    assert verdict.deal_id == deal
    assert verdict.placement == "CRM_DEAL_DETAIL_TAB"
    assert verdict.client_endpoint == "https://acme.bitrix24.com/rest/"
    assert verdict.language == "ru"
    assert verdict.auth_id not in repr(verdict)


def test_posted_domain_never_routes(
    b24: FakeBitrix24, member_id: str, installations: Installs
) -> None:
    query, form = b24.placement_frame(member_id, b24.add_deal(member_id))

    verdict = verify_placement({**query, "DOMAIN": "evil.example.com"}, form, installations.get)

    assert verdict.client_endpoint == "https://acme.bitrix24.com/rest/"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"member_id": "nope"}, "malformed"),
        ({"member_id": "b" * 32}, "unknown_portal"),
        ({"APPLICATION_TOKEN": "0" * 32}, "bad_application_token"),
        ({"APPLICATION_TOKEN": None}, "missing_application_token"),
        ({"PLACEMENT": "CRM_CONTACT_DETAIL_TAB"}, "wrong_placement"),
        ({"PLACEMENT_OPTIONS": "undefined"}, "no_deal"),
        ({"PLACEMENT_OPTIONS": '{"ID":"-4"}'}, "no_deal"),
        ({"AUTH_ID": None}, "no_auth"),
    ],
)
def test_forged_or_broken_frames_are_refused(
    b24: FakeBitrix24,
    member_id: str,
    installations: Installs,
    changes: dict[str, str | None],
    code: str,
) -> None:
    query, form = b24.placement_frame(member_id, b24.add_deal(member_id))

    with pytest.raises(WidgetTokenError) as caught:
        verify_placement(query, edited(form, **changes), installations.get)

    assert caught.value.code == code


def test_uninstalled_portal_is_refused(
    b24: FakeBitrix24, member_id: str, installations: Installs
) -> None:
    query, form = b24.placement_frame(member_id, b24.add_deal(member_id))
    stored = installations[member_id]
    inactive = {
        member_id: KnownInstallation(
            member_id, stored.client_endpoint, stored.application_token, active=False
        )
    }

    with pytest.raises(WidgetTokenError) as caught:
        verify_placement(query, form, inactive.get)

    assert caught.value.code == "inactive_portal"


def test_portal_without_application_token_in_frames_can_be_tolerated(
    b24: FakeBitrix24, member_id: str, installations: Installs
) -> None:
    query, form = b24.placement_frame(member_id, b24.add_deal(member_id))
    old_portal = edited(form, APPLICATION_TOKEN=None)

    verdict = verify_placement(
        query, old_portal, installations.get, require_application_token=False
    )

    assert verdict.member_id == member_id
    with pytest.raises(WidgetTokenError):  # a wrong one is still wrong
        verify_placement(
            query,
            edited(form, APPLICATION_TOKEN="0" * 32),
            installations.get,
            require_application_token=False,
        )


def test_auth_id_is_proven_on_the_stored_portal(
    b24: FakeBitrix24,
    member_id: str,
    installations: Installs,
    b24_connector: Bitrix24Connector,
) -> None:
    query, form = b24.placement_frame(member_id, b24.add_deal(member_id), user_id=7)
    verdict = verify_placement(query, form, installations.get)

    info = prove_auth_id(b24_connector.client, verdict)

    assert info.installed and info.code
    calls = b24.calls_of(member_id, "app.info")
    assert len(calls) == 1 and calls[0].status == 200


def test_forged_auth_id_fails_the_proof(
    b24: FakeBitrix24,
    member_id: str,
    installations: Installs,
    b24_connector: Bitrix24Connector,
) -> None:
    query, form = b24.placement_frame(member_id, b24.add_deal(member_id))
    verdict = verify_placement(query, edited(form, AUTH_ID="f" * 32), installations.get)

    with pytest.raises(WidgetTokenError) as caught:
        prove_auth_id(b24_connector.client, verdict)

    assert caught.value.code == "bad_auth"
    assert b24.refresh_count(member_id) == 0  # a frame's token is never refreshed


def test_auth_id_of_another_portal_fails_the_proof(
    b24: FakeBitrix24,
    member_id: str,
    installations: Installs,
    b24_connector: Bitrix24Connector,
) -> None:
    other = b24.add_portal(domain="other.bitrix24.com")
    query, form = b24.placement_frame(member_id, b24.add_deal(member_id))
    foreign = b24.issue_tokens(other)["access_token"]  # a live token, of the wrong portal
    verdict = verify_placement(query, edited(form, AUTH_ID=foreign), installations.get)

    with pytest.raises(WidgetTokenError) as caught:
        prove_auth_id(b24_connector.client, verdict)

    assert caught.value.code == "bad_auth"


def test_proof_refuses_a_client_of_another_portal(
    b24: FakeBitrix24,
    member_id: str,
    installations: Installs,
    make_b24_connector: Callable[..., Bitrix24Connector],
) -> None:
    other = b24.add_portal(domain="other.bitrix24.com")
    query, form = b24.placement_frame(member_id, b24.add_deal(member_id))
    verdict = verify_placement(query, form, installations.get)

    with pytest.raises(ValueError):
        prove_auth_id(make_b24_connector(portal=other).client, verdict)


def test_placement_options_tolerate_junk() -> None:
    assert placement_options('{"ID":"8061","URI":"/crm/deal/details/8061/"}')["ID"] == "8061"
    for junk in (None, "", "undefined", "[1,2]", "{bad"):
        assert placement_options(junk) == {}


# -- the user and our own token for the tab's XHRs ------------------------------------------

SECRET = "s" * 40
AUDIENCE = "https://platform.example.com"


def verdict_for(
    b24: FakeBitrix24, member_id: str, installations: Installs, user_id: int = 7
) -> PlacementVerdict:
    query, form = b24.placement_frame(member_id, b24.add_deal(member_id), user_id=user_id)
    return verify_placement(query, form, installations.get)


def test_current_user_is_the_frames_user(
    b24: FakeBitrix24,
    member_id: str,
    installations: Installs,
    b24_connector: Bitrix24Connector,
) -> None:
    verdict = verdict_for(b24, member_id, installations, user_id=7)

    assert current_user_id(b24_connector.client, verdict) == 7


def test_frame_token_round_trip_bound_to_portal_and_deal(
    b24: FakeBitrix24, member_id: str, installations: Installs
) -> None:
    verdict = verdict_for(b24, member_id, installations)
    token = issue_frame_token(verdict, secret=SECRET, audience=AUDIENCE, user_id=7)

    claims = verify_frame_token(token, secret=SECRET, audience=AUDIENCE, deal_id=verdict.deal_id)

    assert (claims.member_id, claims.deal_id, claims.user_id) == (member_id, verdict.deal_id, 7)
    assert verify_frame_token(token, secret=SECRET, audience=AUDIENCE) == claims  # reusable


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"secret": "t" * 40}, "bad_signature"),
        ({"audience": "https://other.example.com"}, "wrong_audience"),
        ({"deal_id": 1}, "wrong_deal"),
        ({"now": 10**10}, "expired"),
    ],
)
def test_frame_token_is_refused_when_it_does_not_fit(
    b24: FakeBitrix24,
    member_id: str,
    installations: Installs,
    kwargs: dict[str, object],
    code: str,
) -> None:
    token = issue_frame_token(
        verdict_for(b24, member_id, installations), secret=SECRET, audience=AUDIENCE
    )
    options: dict[str, object] = {"secret": SECRET, "audience": AUDIENCE, **kwargs}

    with pytest.raises(WidgetTokenError) as caught:
        verify_frame_token(token, **options)  # type: ignore[arg-type]

    assert caught.value.code == code


def test_frame_token_of_too_long_a_life_or_junk_is_refused(
    b24: FakeBitrix24, member_id: str, installations: Installs
) -> None:
    verdict = verdict_for(b24, member_id, installations)
    long_lived = issue_frame_token(verdict, secret=SECRET, audience=AUDIENCE, ttl=86400)

    with pytest.raises(WidgetTokenError) as caught:
        verify_frame_token(long_lived, secret=SECRET, audience=AUDIENCE)
    assert caught.value.code == "too_long_lived"
    for junk in ("", "a.b.c", "x" * 5000):
        with pytest.raises(WidgetTokenError):
            verify_frame_token(junk, secret=SECRET, audience=AUDIENCE)
    with pytest.raises(ValueError):
        issue_frame_token(verdict, secret="short", audience=AUDIENCE)
