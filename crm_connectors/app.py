"""How a CRM app describes itself to the core: authorising an account (OAuth), verifying the
token the card's embedded UI sends, which origins may call, its rate budget and HTTP client.

The core never imports a vendor folder: it asks ``crm_connectors.registry.crm_app(slug)`` for
one of these and calls what it holds. Each vendor builds its own in ``<vendor>/app.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from crm_connectors.base import CrmAccountRef, OAuthTokens, RateLimiter


class AccountInfo(Protocol):
    """Who granted access, read right after the code exchange."""

    @property
    def account_id(self) -> int | str: ...
    @property
    def subdomain(self) -> str: ...
    @property
    def current_user_id(self) -> int | None: ...


class CardClaims(Protocol):
    """What the card's embedded UI proved about its caller."""

    @property
    def account_id(self) -> int | str: ...
    @property
    def user_id(self) -> int: ...
    @property
    def subdomain(self) -> str: ...
    @property
    def is_admin(self) -> bool | None: ...


class CardTokenVerifier(Protocol):
    def __call__(
        self,
        token: str,
        *,
        secret: str,
        audiences: Sequence[str],
        jti_guard: Callable[[str, int], bool],
        client_id: str | None = None,
        max_lifetime: int | None = ...,
    ) -> CardClaims:
        """The token's claims, or ``WidgetTokenError(code=...)``; ``jti_guard(jti, ttl)`` is
        True only the first time a token id is seen."""
        ...


class RateLimiterFactory(Protocol):
    def __call__(self, redis: Any, *, rate: int, margin: float) -> RateLimiter:
        """A limiter over the shared Redis: at most ``rate`` grants a second per key."""
        ...


@dataclass(frozen=True)
class CrmOAuth:
    """The OAuth side of a CRM app. Hosts are untrusted input: every check raises ValueError."""

    # (client_id, state) → the consent URL the owner is sent to.
    authorize_url: Callable[[str, str], str]
    # The OAuth ``referer`` (untrusted) → the canonical account host, or ValueError.
    account_host: Callable[[str], str]
    # A canonical host → ``https://<host>``, or ValueError.
    account_origin: Callable[[str], str]
    # A stored base URL → its host, checked again before anything is sent there; or ValueError.
    stored_account_host: Callable[[str], str]
    # (http, base_url, client_id, client_secret, code, redirect_uri) → tokens; raises CrmError.
    exchange_code: Callable[[httpx.Client, str, str, str, str, str], OAuthTokens]
    # (http, base_url, tokens) → who granted access; raises CrmError.
    fetch_account: Callable[[httpx.Client, str, OAuthTokens], AccountInfo]
    # (client_uuid, account_id, signature, client_secret, client_id) → is the uninstall genuine.
    verify_uninstall: Callable[[str, str, str, str, str], bool]


@dataclass(frozen=True)
class ConnectorTarget:
    """Where the core's connector for one connection goes; the vendor turns it into its
    connector's keyword arguments (``CrmApp.connector_kwargs``)."""

    account_id: str
    # ``https://<stored account host>`` (validated again before every use).
    base_url: str
    # ``<PREFIX>_API_BASE_URL`` (tests, local development): "" for the real service.
    api_base_url: str
    redirect_uri: str


@dataclass(frozen=True)
class InstalledAccount:
    """A confirmed install (the vendor verified it with the CRM): what the core stores."""

    account_id: str
    subdomain: str
    base_url: str
    tokens: OAuthTokens = field(repr=False)
    # The secret the CRM sends with every event of this install (Bitrix24 ``application_token``).
    application_token: str = field(repr=False, default="")
    user_id: int | None = None


class InstallRefusedByApp(ValueError):
    """An install POST that cannot be used: ``code`` says why (answer 4xx, store nothing)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class InstallRequestInfo:
    """What an install POST claims, parsed but not verified."""

    account_id: str
    host: str
    payload: Any = field(repr=False)
    # The installer frame (an administrator opening the app), not the install callback; with
    # the install's own secret it posts, so that a reopening of an installed app can be told
    # from a reinstall without spending the refresh token.
    frame: bool = False
    application_token: str = field(default="", repr=False)


class InstallCompleter(Protocol):
    def __call__(
        self,
        http: httpx.Client,
        request: InstallRequestInfo,
        *,
        client_id: str,
        client_secret: str,
        api_base_url: str,
    ) -> InstalledAccount:
        """Verify the install with the CRM and say what to store; raises CrmError (refused or
        unreachable) or InstallRefusedByApp."""
        ...


@dataclass(frozen=True)
class CrmInstall:
    """A CRM that calls us back on install (Bitrix24's ONAPPINSTALL / installer frame)."""

    # (query, raw form body) → the claim, or InstallRefusedByApp. Never trusts the body.
    parse: Callable[[Mapping[str, Any], bytes], InstallRequestInfo]
    complete: InstallCompleter
    # Origins of the scripts the install page loads in the CRM's frame (its JS SDK).
    page_script_origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class PostedEvent:
    """One event the CRM posted (unverified until ``CrmEvents.verify``)."""

    account_id: str
    # "uninstall", "lead" or "other".
    kind: str
    application_token: str = field(repr=False)
    lead_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class CrmEvents:
    """A CRM whose events carry a per-install secret (Bitrix24's ``application_token``)."""

    # The raw form body → the event, or None for anything unusable. Never raises.
    parse: Callable[[bytes], PostedEvent | None]
    # (given, stored) → equal, in constant time; an empty stored token never matches.
    verify: Callable[[str, str], bool]


@dataclass(frozen=True)
class CrmApp:
    """One CRM as the core sees it. Identifiers the core stores are the vendor's, as strings
    where the vendor's are not integers (account ids of amoCRM are integers)."""

    slug: str
    title: str
    # Settings named ``<prefix>_CLIENT_ID``, ``_CLIENT_SECRET``, ``_API_BASE_URL``,
    # ``_RATE_LIMIT_PER_SECOND``, ``_BACKGROUND_RATE_PER_SECOND``, ``_RATE_LIMIT_MARGIN``,
    # ``_WIDGET_TOKEN_MAX_LIFETIME`` configure it.
    settings_prefix: str
    oauth: CrmOAuth
    verify_card_token: CardTokenVerifier
    # PLATFORM_BASE_URL → the origins (token audiences) the card may call us from.
    allowed_origins: Callable[[str], list[str]]
    rate_limiter: RateLimiterFactory
    # (shared_limit_key, limiter_timeout) → the connector's client options; None, None: defaults.
    client_options: Callable[[str | None, float | None], Any]
    # One pooled HTTP client per process for the calls made outside a connector (the exchange).
    http_client: Callable[[], httpx.Client]
    # An untrusted account id (a URL, a form, a token) → its canonical string, or ValueError.
    account_key: Callable[[object], str] = lambda value: _digits(value)
    # The connection → its connector's account keyword arguments (amoCRM's by default).
    connector_kwargs: Callable[[ConnectorTarget], dict[str, Any]] = lambda target: (
        _amocrm_style_kwargs(target)
    )
    # Set for a CRM that posts its installs to us (None: installs come by OAuth redirect).
    install: CrmInstall | None = None
    # Set for a CRM whose events are verified by a secret saved at install (None: the
    # webhook URL's own secret is the only check, as for amoCRM).
    events: CrmEvents | None = None
    # The name in Russian where it is written differently (Битрикс24); ``title`` otherwise.
    title_ru: str = ""


def _digits(value: object) -> str:
    """An integer account id (amoCRM's) as its decimal string, or ValueError."""
    if isinstance(value, bool):
        raise ValueError("not an account id")
    text = str(value).strip() if isinstance(value, int | str) else ""
    if not text.isascii() or not text.isdigit() or len(text) > 18 or int(text) <= 0:
        raise ValueError("not an account id")
    return str(int(text))


def _amocrm_style_kwargs(target: ConnectorTarget) -> dict[str, Any]:
    return {
        "account": CrmAccountRef(
            account_id=int(target.account_id), base_url=target.api_base_url or target.base_url
        ),
        "redirect_uri": target.redirect_uri,
    }


# -- the card opened as an iframe by a POST (Bitrix24's placements) ---------------------------


@dataclass(frozen=True)
class FrameInstallation:
    """What the core stored for the account a frame POST names, as the check needs it."""

    account_id: str
    # The stored address of the account, as the install saved it (the CRM knows how to call it).
    base_url: str
    application_token: str = field(repr=False)
    active: bool = True


@dataclass(frozen=True)
class FrameOpening:
    """A frame POST proven against the CRM: which account and deal, which user, the UI's
    language and the origin allowed to frame the answer."""

    account_id: str
    deal_id: int
    user_id: int | None
    language: str
    frame_origin: str


@dataclass(frozen=True)
class FrameTokenClaims:
    account_id: str
    deal_id: int
    user_id: int | None
    exp: int
    jti: str


@dataclass(frozen=True)
class CardFrame:
    """How a CRM whose card UI is an iframe opened by a browser POST proves the caller, and the
    short-lived token the frame then sends with each call (its header ``token_header``)."""

    # The CRM's name as managers know it (in messages: «Битрикс24»).
    title: str
    # (query, form body) → the account id the POST names (untrusted, only to find the stored
    # installation), or WidgetTokenError("malformed").
    account_of: Callable[[Mapping[str, Any], Mapping[str, Any] | bytes], str]
    # (query, form body, stored installation, that account's connector) → the proven opening;
    # raises WidgetTokenError(code) for a POST that is not the CRM's, CrmError when the CRM
    # cannot answer the proof.
    open: Callable[
        [Mapping[str, Any], Mapping[str, Any] | bytes, FrameInstallation, Any], FrameOpening
    ]
    # (opening, secret, audience) → the token.
    issue_token: Callable[[FrameOpening, str, str], str]
    # (token, secret, audience, deal id or None) → claims, or WidgetTokenError(code).
    verify_token: Callable[[str, str, str, int | None], FrameTokenClaims]
    # A stored installation → the origin its frames come from (``https://<host>``), or ValueError.
    origin_of: Callable[[FrameInstallation], str]
    token_header: str = "X-Frame-Token"
    # How long an issued token lives (seconds).
    token_ttl: int = 900
