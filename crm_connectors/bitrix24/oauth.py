"""Bitrix24 OAuth (spec §1.2, §2): the install callback and installer frame, code exchange,
rotating refresh, the uninstall event, and the refresher the client hands to ``TokenStore``.

Trust: nothing an install POST says is believed until the OAuth server confirms it. Completing
an install spends the posted refresh token once at the (fixed, allow-listed) OAuth server; its
answer names the ``member_id`` and ``client_endpoint`` authoritatively, and only our client
secret can make that call. A forged POST (made-up tokens, someone else's domain) ends in
``invalid_grant`` before anything is stored.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from crm_connectors.base import OAuthTokens
from crm_connectors.bitrix24.client import endpoint_host, error_for, member_id_of, portal_host
from crm_connectors.bitrix24.consts import OAUTH_SERVERS, TOKEN_PATH, TOKEN_RE
from crm_connectors.bitrix24.forms import form_fields, section
from crm_connectors.errors import CrmAuthError, CrmPaymentRequired, CrmUnavailable
from crm_connectors.http import body_dict

logger = logging.getLogger(__name__)

_SECRET_QUERY = re.compile(r"((?:client_secret|refresh_token|code|auth)=)[^&\s\"']+")


class _RedactTokenQuery(logging.Filter):
    """httpx logs every request URL at INFO; the token endpoint is a GET whose query carries
    the client secret and the refresh token (§2.2), so those values are masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            "/oauth/token" in str(arg) for arg in record.args
        ):
            record.args = tuple(
                _SECRET_QUERY.sub(r"\1***", str(arg)) if "/oauth/token" in str(arg) else arg
                for arg in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_RedactTokenQuery())


# -- the OAuth server ---------------------------------------------------------------------------


def oauth_server(server_endpoint: str | None = None, *, override: str | None = None) -> str:
    """The OAuth server origin to use: ``override`` (tests), else the allow-listed server that
    ``server_endpoint`` names (``https://oauth.bitrix24.tech/rest/`` for .ru portals), else the
    default one. An unknown endpoint is never used (it would receive the client secret)."""
    if override:
        return override.rstrip("/")
    if server_endpoint:
        parts = urlsplit(server_endpoint.strip())
        origin = f"{parts.scheme}://{(parts.hostname or '').lower()}"
        if origin in OAUTH_SERVERS and parts.port is None and not parts.username:
            return origin
    return OAUTH_SERVERS[0]


def build_authorize_url(domain: str, client_id: str, state: str) -> str:
    """§2.1 (3): the consent page on an installed portal; Bitrix24 returns to the app card's
    redirect URI with ``code`` (valid 30 s), ``state``, ``domain``, ``member_id``."""
    return f"https://{portal_host(domain)}/oauth/authorize/?" + urlencode(
        {"client_id": client_id, "state": state}
    )


@dataclass(frozen=True)
class TokenGrant:
    """The token endpoint's answer (§2.2): the pair and whom it belongs to."""

    tokens: OAuthTokens
    member_id: str
    client_endpoint: str
    server_endpoint: str
    scope: tuple[str, ...]
    status: str
    user_id: int | None


def parse_scope(raw: object) -> tuple[str, ...]:
    """§1.2: commas in practice, spaces per one page; both accepted."""
    text = raw if isinstance(raw, str) else ""
    return tuple(p for p in re.split(r"[,\s]+", text.strip()) if p)


def _seconds(value: object, default: int = 3600) -> int:
    if isinstance(value, int | Decimal) and not isinstance(value, bool) and 0 < value < 10**7:
        return int(value)
    if isinstance(value, str) and value.isdigit() and 0 < int(value) < 10**7:
        return int(value)
    return default


def grant_of(body: Mapping[str, Any], *, now: datetime) -> TokenGrant:
    access, refresh = body.get("access_token"), body.get("refresh_token")
    if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
        raise CrmUnavailable("token endpoint answered without a token pair", code="bad_response")
    try:
        member_id = member_id_of(body.get("member_id"))
        client_endpoint = f"https://{endpoint_host(str(body.get('client_endpoint')))}/rest/"
    except ValueError:
        raise CrmUnavailable(
            "token endpoint answered without a usable portal", code="bad_response"
        ) from None
    user_id = body.get("user_id")
    return TokenGrant(
        tokens=OAuthTokens(
            access_token=access,
            refresh_token=refresh,
            expires_at=now + timedelta(seconds=_seconds(body.get("expires_in"))),
        ),
        member_id=member_id,
        client_endpoint=client_endpoint,
        server_endpoint=str(body.get("server_endpoint") or ""),
        scope=parse_scope(body.get("scope")),
        status=str(body.get("status") or ""),
        user_id=user_id if isinstance(user_id, int) and not isinstance(user_id, bool) else None,
    )


def request_tokens(
    http: httpx.Client,
    server: str,
    params: Mapping[str, str],
    *,
    timeout: float = 10.0,
    now: datetime | None = None,
) -> TokenGrant:
    """GET the token endpoint (§2.2). Refused keys/grants → CrmAuthError (``invalid_grant``,
    ``invalid_client``), an unpaid app → CrmPaymentRequired, anything else → CrmUnavailable."""
    try:
        response = http.get(server.rstrip("/") + TOKEN_PATH, params=dict(params), timeout=timeout)
    except httpx.HTTPError as exc:
        raise CrmUnavailable(
            f"Bitrix24 OAuth server unreachable: {type(exc).__name__}", code="network"
        ) from None
    body = body_dict(response)
    code = body.get("error")
    if response.status_code == 200 and not code:
        return grant_of(body, now=now or datetime.now(UTC))
    if code == "PAYMENT_REQUIRED":
        raise CrmPaymentRequired("Bitrix24 app payment required", status=response.status_code)
    if response.status_code in (400, 401, 403) or code in ("invalid_grant", "invalid_client"):
        raise CrmAuthError(
            f"Bitrix24 refused the grant: {code or response.status_code}",
            code=str(code) if code in ("invalid_grant", "invalid_client") else "invalid_grant",
            status=response.status_code,
        )
    raise error_for(response.status_code, body, method="oauth/token")


def exchange_code(
    http: httpx.Client,
    server: str,
    *,
    client_id: str,
    client_secret: str,
    code: str,
    timeout: float = 10.0,
) -> TokenGrant:
    """Trade an authorization code (valid 30 s, §2.1) for a pair."""
    return request_tokens(
        http,
        server,
        {
            "grant_type": "authorization_code",
            "client_id": client_id,
            "client_secret": client_secret,
            "code": code,
        },
        timeout=timeout,
    )


def refresh_tokens(
    http: httpx.Client,
    server: str,
    *,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    timeout: float = 10.0,
) -> TokenGrant:
    """Rotate the pair (§2.3): the old refresh token **and** its access token die. Call only
    under the installation's lock (``TokenStore.refresh``)."""
    return request_tokens(
        http,
        server,
        {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        },
        timeout=timeout,
    )


def make_refresher(
    http: httpx.Client,
    server: str,
    *,
    client_id: str,
    client_secret: str,
    member_id: str,
    timeout: float = 10.0,
) -> Callable[[OAuthTokens], OAuthTokens]:
    """``stored → rotated`` for one portal. An answer naming another portal is refused: the
    stored pair would otherwise be replaced by tokens of someone else's portal."""

    def rotate(stored: OAuthTokens) -> OAuthTokens:
        grant = refresh_tokens(
            http,
            server,
            client_id=client_id,
            client_secret=client_secret,
            refresh_token=stored.refresh_token,
            timeout=timeout,
        )
        if grant.member_id != member_id:
            raise CrmAuthError("refresh answered for another portal", code="wrong_portal")
        return grant.tokens

    return rotate


# -- install ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstallRequest:
    """What an install POST claims (untrusted until ``complete_install``)."""

    source: str  # "callback" (ONAPPINSTALL) or "frame" (the installer page, PLACEMENT=DEFAULT)
    member_id: str
    domain: str
    server_endpoint: str
    application_token: str = field(repr=False)
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    scope: tuple[str, ...] = ()
    status: str = ""
    language: str = ""


@dataclass(frozen=True)
class Installation:
    """A confirmed install: store all of it per ``member_id`` (tokens sealed)."""

    member_id: str
    client_endpoint: str
    server_endpoint: str
    application_token: str = field(repr=False)
    tokens: OAuthTokens = field(repr=False)
    scope: tuple[str, ...] = ()
    status: str = ""
    user_id: int | None = None
    language: str = ""

    @property
    def domain(self) -> str:
        return endpoint_host(self.client_endpoint)


class InstallRejected(ValueError):
    """The install POST is unusable; ``code`` names why (answer it 400, store nothing)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _token(value: str | None, code: str) -> str:
    if not value or not TOKEN_RE.fullmatch(value):
        raise InstallRejected(code)
    return value


def parse_install_callback(payload: Mapping[str, Any] | bytes | str) -> InstallRequest:
    """The ONAPPINSTALL form (§1.2 B, §8a). Raises ``InstallRejected``."""
    fields = form_fields(payload)
    if fields.get("event", "").upper() != "ONAPPINSTALL":
        raise InstallRejected("not_an_install")
    auth, data = section(fields, "auth"), section(fields, "data")
    return _install_request(
        "callback",
        member_id=auth.get("member_id"),
        domain=auth.get("domain"),
        server_endpoint=auth.get("server_endpoint", ""),
        application_token=auth.get("application_token"),
        access_token=auth.get("access_token"),
        refresh_token=auth.get("refresh_token"),
        scope=auth.get("scope", ""),
        status=auth.get("status", ""),
        language=data.get("LANGUAGE_ID", ""),
    )


def parse_installer_frame(
    query: Mapping[str, Any], form: Mapping[str, Any] | bytes | str
) -> InstallRequest:
    """The installer iframe's POST (§1.3, §8a UI variant): DOMAIN in the query, tokens in the
    body. ``APPLICATION_TOKEN`` is required here (without it events cannot be verified)."""
    q, body = form_fields(query), form_fields(form)
    return _install_request(
        "frame",
        member_id=body.get("member_id"),
        domain=q.get("DOMAIN"),
        server_endpoint=body.get("SERVER_ENDPOINT", ""),
        application_token=body.get("APPLICATION_TOKEN"),
        access_token=body.get("AUTH_ID"),
        refresh_token=body.get("REFRESH_ID"),
        scope=body.get("APPLICATION_SCOPE", ""),
        status=body.get("status", ""),
        language=q.get("LANG", ""),
    )


def _install_request(
    source: str,
    *,
    member_id: str | None,
    domain: str | None,
    server_endpoint: str,
    application_token: str | None,
    access_token: str | None,
    refresh_token: str | None,
    scope: str,
    status: str,
    language: str,
) -> InstallRequest:
    try:
        member = member_id_of(member_id)
    except ValueError:
        raise InstallRejected("bad_member_id") from None
    try:
        host = portal_host(domain or "")
    except ValueError:
        raise InstallRejected("bad_domain") from None
    return InstallRequest(
        source=source,
        member_id=member,
        domain=host,
        server_endpoint=server_endpoint[:200],
        application_token=_token(application_token, "no_application_token"),
        access_token=_token(access_token, "no_access_token"),
        refresh_token=_token(refresh_token, "no_refresh_token"),
        scope=parse_scope(scope),
        status=status[:2],
        language=language[:5],
    )


def complete_install(
    http: httpx.Client,
    request: InstallRequest,
    *,
    client_id: str,
    client_secret: str,
    oauth_override: str | None = None,
    api_base_url: str | None = None,
    require_admin: bool = True,
    timeout: float = 10.0,
) -> Installation:
    """Confirm an install at the OAuth server and return what to store.

    Spends the posted refresh token once (the answer's pair replaces it). Raises
    ``CrmAuthError`` for made-up tokens (``invalid_grant``) and when the server names another
    portal than the POST (``wrong_portal``); ``CrmUnavailable`` when it cannot be reached.

    Every user of a portal receives live tokens in each frame POST, so genuine tokens alone do
    not make an install: with ``require_admin`` the installing user must be a portal admin
    (``user.admin``), or ``InstallRejected("not_admin")`` — otherwise any user could replace
    the stored ``application_token`` with one of their choosing. Installing an app and binding
    its events and placements need an admin anyway (§1.1, §5.1, §6.1).
    """
    server = oauth_server(request.server_endpoint, override=oauth_override)
    grant = refresh_tokens(
        http,
        server,
        client_id=client_id,
        client_secret=client_secret,
        refresh_token=request.refresh_token,
        timeout=timeout,
    )
    if grant.member_id != request.member_id:
        raise CrmAuthError("the install names another portal", code="wrong_portal")
    if require_admin and not is_admin(
        http, grant.client_endpoint, grant.tokens, api_base_url=api_base_url, timeout=timeout
    ):
        raise InstallRejected("not_admin")
    logger.info("Bitrix24 portal %s: install confirmed", grant.member_id)
    return Installation(
        member_id=grant.member_id,
        # The server's endpoint, not the POST's domain (which is only compared in the core).
        client_endpoint=grant.client_endpoint,
        server_endpoint=server + "/rest/",
        application_token=request.application_token,
        tokens=grant.tokens,
        scope=grant.scope or request.scope,
        status=grant.status or request.status,
        user_id=grant.user_id,
        language=request.language,
    )


def is_admin(
    http: httpx.Client,
    client_endpoint: str,
    tokens: OAuthTokens,
    *,
    api_base_url: str | None = None,
    timeout: float = 10.0,
) -> bool:
    """``user.admin`` (scope ``basic``; not in the spec, a standard method) for the tokens'
    user, on the endpoint the OAuth server named. One call at install time, before the
    installation (the limiter's key) exists."""
    host = endpoint_host(client_endpoint)
    url = (
        f"{api_base_url.rstrip('/')}/{host}/rest/user.admin"
        if api_base_url
        else f"https://{host}/rest/user.admin"
    )
    try:
        response = http.post(url, json={"auth": tokens.access_token}, timeout=timeout)
    except httpx.HTTPError as exc:
        raise CrmUnavailable(
            f"Bitrix24 unreachable: {type(exc).__name__}", code="network"
        ) from None
    body = body_dict(response)
    if response.status_code != 200 or "error" in body:
        raise error_for(response.status_code, body, method="user.admin")
    return body.get("result") is True


# -- uninstall ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UninstallRequest:
    member_id: str
    application_token: str = field(repr=False)
    clean: bool = False


def parse_uninstall(payload: Mapping[str, Any] | bytes | str) -> UninstallRequest | None:
    """The ONAPPUNINSTALL form (§2.4): no tokens, only ``application_token`` to check."""
    fields = form_fields(payload)
    if fields.get("event", "").upper() != "ONAPPUNINSTALL":
        return None
    auth, data = section(fields, "auth"), section(fields, "data")
    try:
        member = member_id_of(auth.get("member_id"))
    except ValueError:
        return None
    token = auth.get("application_token", "")
    if not TOKEN_RE.fullmatch(token):
        return None
    return UninstallRequest(member, token, clean=data.get("CLEAN") == "1")


def same_application_token(given: str, stored: str) -> bool:
    """Constant-time comparison; an empty stored token never matches."""
    if not stored or not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode(), stored.encode())
