"""Bitrix24 described for the core (``crm_connectors.registry.crm_app("bitrix24")``).

What differs from amoCRM and is declared here: the portal is a string ``member_id`` with its
domain (``https://<domain>`` is the stored base URL); installs are posted to us (ONAPPINSTALL or
the installer frame, §1.2) and confirmed at the OAuth server before anything is stored; events
carry the ``application_token`` saved at install (§6.3) and an uninstall is such an event (§2.4);
the portal's limit is a leaky bucket plus a per-method time budget (§3.6); the card's UI is a
frame whose XHRs carry our own short-lived token (frame_token.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from crm_connectors.app import (
    CardClaims,
    ConnectorTarget,
    CrmApp,
    CrmEvents,
    CrmInstall,
    CrmOAuth,
    InstalledAccount,
    InstallRefusedByApp,
    InstallRequestInfo,
    PostedEvent,
)
from crm_connectors.base import OAuthTokens, RateLimiter
from crm_connectors.bitrix24 import oauth
from crm_connectors.bitrix24.client import (
    Bitrix24ClientOptions,
    Bitrix24Portal,
    endpoint_host,
    member_id_of,
    portal_host,
)
from crm_connectors.bitrix24.consts import DEFAULT_BURST, EVENT_KINDS, OAUTH_SERVERS, SLUG
from crm_connectors.bitrix24.frame_token import verify_frame_token
from crm_connectors.bitrix24.ratelimit import RedisBitrixLimiter
from crm_connectors.bitrix24.webhooks import parse_event
from crm_connectors.errors import CrmAuthError, WidgetTokenError
from crm_connectors.http import shared_http_client

# -- OAuth (§2) ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrantTokens(OAuthTokens):
    """The pair plus whom the token server said it belongs to (§2.2 answers name the portal)."""

    member_id: str = ""
    client_endpoint: str = ""
    user_id: int | None = None


@dataclass(frozen=True)
class PortalAccount:
    account_id: str
    subdomain: str
    current_user_id: int | None


def _authorize_url(client_id: str, state: str) -> str:
    # §2.1 (3): the consent page lives on the portal, so the owner must name it first; the
    # platform binds Bitrix24 portals by install + claim code instead.
    raise ValueError("Bitrix24 consent needs the portal's domain")


def _account_origin(host: str) -> str:
    return f"https://{portal_host(host)}"


def _stored_account_host(base_url: str) -> str:
    """``https://<portal>`` (as stored) → the portal host; anything else is ValueError."""
    if not isinstance(base_url, str) or not base_url.startswith("https://"):
        raise ValueError("not a stored portal URL")
    return endpoint_host(base_url.rstrip("/") + "/rest/")


def _token_server(base_url: str) -> str:
    """The core passes the override or the stored portal origin; the token endpoint is never
    the portal's (§1.1): the allow-listed OAuth server, unless an override (tests) is given."""
    try:
        _stored_account_host(base_url)
    except ValueError:
        return oauth.oauth_server(override=base_url)
    return OAUTH_SERVERS[0]


def _exchange_code(
    http: httpx.Client,
    base_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
) -> OAuthTokens:
    grant = oauth.exchange_code(
        http, _token_server(base_url), client_id=client_id, client_secret=client_secret, code=code
    )
    return GrantTokens(
        access_token=grant.tokens.access_token,
        refresh_token=grant.tokens.refresh_token,
        expires_at=grant.tokens.expires_at,
        member_id=grant.member_id,
        client_endpoint=grant.client_endpoint,
        user_id=grant.user_id,
    )


def _fetch_account(http: httpx.Client, base_url: str, tokens: OAuthTokens) -> PortalAccount:
    # The token server's answer already named the portal; nothing else is believed.
    if not isinstance(tokens, GrantTokens) or not tokens.member_id:
        raise CrmAuthError("no portal named by the token server", code="bad_response")
    return PortalAccount(
        account_id=tokens.member_id,
        subdomain=endpoint_host(tokens.client_endpoint),
        current_user_id=tokens.user_id,
    )


def _verify_uninstall(
    client_uuid: str, account_id: str, signature: str, client_secret: str, client_id: str
) -> bool:
    # Bitrix24 has no signed "disabled" hook: its uninstall is the ONAPPUNINSTALL event.
    return False


# -- the card's frame (§5.4 step 4) -------------------------------------------------------------


@dataclass(frozen=True)
class FrameCardClaims:
    account_id: str
    user_id: int
    subdomain: str
    is_admin: bool | None
    deal_id: int


def _verify_card_token(
    token: str,
    *,
    secret: str,
    audiences: Sequence[str],
    jti_guard: Callable[[str, int], bool],
    client_id: str | None = None,
    max_lifetime: int | None = None,
) -> CardClaims:
    """Our frame token (not single use: the tab makes several calls with it, so ``jti_guard``
    is not consulted). ``WidgetTokenError`` for anything else."""
    last: WidgetTokenError = WidgetTokenError("wrong_audience", "no audience accepted")
    extra: dict[str, Any] = {"max_lifetime": max_lifetime} if max_lifetime else {}
    for audience in audiences:
        try:
            claims = verify_frame_token(token, secret=secret, audience=audience, **extra)
        except WidgetTokenError as exc:
            if exc.code != "wrong_audience":
                raise
            last = exc
            continue
        return FrameCardClaims(
            account_id=claims.member_id,
            user_id=claims.user_id or 0,
            subdomain="",
            is_admin=None,
            deal_id=claims.deal_id,
        )
    raise last


def _allowed_origins(platform_base_url: str) -> list[str]:
    """The tab's page is ours: its XHRs come from the platform's own origin (with its port and
    without, as for amoCRM's audiences)."""
    parts = urlsplit(platform_base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("base_url must be an http(s) URL")
    bare = f"{parts.scheme}://{parts.hostname.lower()}"
    return [f"{bare}:{parts.port}", bare] if parts.port is not None else [bare]


# -- limits, connector --------------------------------------------------------------------------


def _rate_limiter(redis: Any, *, rate: int, margin: float) -> RateLimiter:
    # §3.6: the bucket drains `rate` a second and refuses above 50; we stop short of it.
    return RedisBitrixLimiter(redis, drain_per_second=float(rate), burst=DEFAULT_BURST)


def _client_options(
    shared_limit_key: str | None, limiter_timeout: float | None
) -> Bitrix24ClientOptions:
    defaults = Bitrix24ClientOptions()
    return dataclasses.replace(
        defaults,
        extra_limit_keys=(shared_limit_key,) if shared_limit_key else (),
        limiter_timeout=defaults.limiter_timeout if limiter_timeout is None else limiter_timeout,
    )


def _connector_kwargs(target: ConnectorTarget) -> dict[str, Any]:
    return {
        "portal": Bitrix24Portal(
            member_id=target.account_id, client_endpoint=target.base_url.rstrip("/") + "/rest/"
        ),
        "oauth_override": target.api_base_url or None,
        "api_base_url": target.api_base_url or None,
    }


# -- install (§1.2), events (§6) ----------------------------------------------------------------


def _parse_install(query: Mapping[str, Any], body: bytes) -> InstallRequestInfo:
    try:
        if query.get("DOMAIN"):
            request = oauth.parse_installer_frame(query, body)
        else:
            request = oauth.parse_install_callback(body)
    except oauth.InstallRejected as exc:
        raise InstallRefusedByApp(exc.code) from None
    return InstallRequestInfo(
        account_id=request.member_id,
        host=request.domain,
        payload=request,
        frame=request.source == "frame",
        application_token=request.application_token,
    )


def _complete_install(
    http: httpx.Client,
    request: InstallRequestInfo,
    *,
    client_id: str,
    client_secret: str,
    api_base_url: str,
) -> InstalledAccount:
    if not isinstance(request.payload, oauth.InstallRequest):
        raise InstallRefusedByApp("not_an_install")
    try:
        installation = oauth.complete_install(
            http,
            request.payload,
            client_id=client_id,
            client_secret=client_secret,
            oauth_override=api_base_url or None,
            api_base_url=api_base_url or None,
        )
    except oauth.InstallRejected as exc:
        raise InstallRefusedByApp(exc.code) from None
    return InstalledAccount(
        account_id=installation.member_id,
        subdomain=installation.domain,
        base_url=f"https://{installation.domain}",
        tokens=installation.tokens,
        application_token=installation.application_token,
        user_id=installation.user_id,
    )


def _parse_posted_event(body: bytes) -> PostedEvent | None:
    event = parse_event(body)
    if event is None:
        return None
    if event.event == "ONAPPUNINSTALL":
        kind = "uninstall"
    elif event.event in EVENT_KINDS and event.deal_id is not None:
        kind = "lead"
    else:
        kind = "other"
    return PostedEvent(
        account_id=event.member_id,
        kind=kind,
        application_token=event.application_token,
        lead_ids=(event.deal_id,) if kind == "lead" and event.deal_id is not None else (),
    )


APP = CrmApp(
    slug=SLUG,
    title="Bitrix24",
    title_ru="Битрикс24",
    settings_prefix="BITRIX24",
    oauth=CrmOAuth(
        authorize_url=_authorize_url,
        account_host=portal_host,
        account_origin=_account_origin,
        stored_account_host=_stored_account_host,
        exchange_code=_exchange_code,
        fetch_account=_fetch_account,
        verify_uninstall=_verify_uninstall,
    ),
    verify_card_token=_verify_card_token,
    allowed_origins=_allowed_origins,
    rate_limiter=_rate_limiter,
    client_options=_client_options,
    http_client=shared_http_client,
    account_key=member_id_of,
    connector_kwargs=_connector_kwargs,
    install=CrmInstall(
        parse=_parse_install,
        complete=_complete_install,
        # BX24.installFinish() comes from the portal's JS SDK (spec §1.2, §1.4).
        page_script_origins=("https://api.bitrix24.com",),
    ),
    events=CrmEvents(parse=_parse_posted_event, verify=oauth.same_application_token),
)
