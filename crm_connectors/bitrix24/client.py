"""The one place that talks to a Bitrix24 portal over HTTP (spec §3).

Every call: a timeout, a slot of the portal's leaky bucket and of the method's time budget from
the shared limiter, the app's token in the JSON body (never in a URL, which HTTP logging
prints), one refresh-and-retry on ``401 expired_token``, bounded backoff with full jitter on
``QUERY_LIMIT_EXCEEDED`` and 5xx, and a ``CrmError`` subclass for everything else. Bitrix24
answers some errors with HTTP 200, so every body is checked for ``error``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx

from crm_connectors import http as crm_http
from crm_connectors.base import OAuthTokens, RateLimiter, TokenStore
from crm_connectors.bitrix24.consts import (
    AUTH_ERRORS,
    EXPIRED_TOKEN_ERRORS,
    MEMBER_ID_RE,
    NOT_FOUND_DESCRIPTIONS,
    NOT_FOUND_ERRORS,
    OPERATING_LIMIT_ERRORS,
    PAGE_SIZE,
    PAYMENT_ERRORS,
    PORTAL_HOST_RE,
    RATE_LIMIT_ERRORS,
    REVOKED_ERRORS,
)
from crm_connectors.bitrix24.ratelimit import OperatingBudget
from crm_connectors.errors import (
    CrmAccessRevoked,
    CrmAuthError,
    CrmError,
    CrmNotFound,
    CrmPaymentRequired,
    CrmRateLimited,
    CrmUnavailable,
    CrmValidationError,
)
from crm_connectors.http import body_dict, clip, encode_json, shared_http_client

logger = logging.getLogger(__name__)

_METHOD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._")


def portal_host(value: str) -> str:
    """The canonical portal host in ``value`` (a bare host, untrusted), or ValueError."""
    if not isinstance(value, str):
        raise ValueError("not a portal host")
    host = value.strip().lower()
    if not PORTAL_HOST_RE.fullmatch(host):
        raise ValueError("not a portal host")
    return host


def endpoint_host(client_endpoint: str) -> str:
    """The portal host of ``https://<host>/rest/`` and nothing else (no port, user, query)."""
    if not isinstance(client_endpoint, str) or not client_endpoint.startswith("https://"):
        raise ValueError("client_endpoint must be https://<portal>/rest/")
    rest = client_endpoint[len("https://") :]
    host, slash, path = rest.partition("/")
    if slash != "/" or path != "rest/":
        raise ValueError("client_endpoint must be https://<portal>/rest/")
    return portal_host(host)


def member_id_of(value: object) -> str:
    """A canonical ``member_id`` (32 lower-case hex), or ValueError."""
    text = value.strip().lower() if isinstance(value, str) else ""
    if not MEMBER_ID_RE.fullmatch(text):
        raise ValueError("member_id must be 32 hex characters")
    return text


@dataclass(frozen=True)
class Bitrix24Portal:
    """Which portal to call: its ``member_id`` (the stable id) and the stored
    ``client_endpoint`` (``https://<domain>/rest/``, which changes when the portal moves)."""

    member_id: str
    client_endpoint: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "member_id", member_id_of(self.member_id))
        object.__setattr__(
            self, "client_endpoint", f"https://{endpoint_host(self.client_endpoint)}/rest/"
        )

    @property
    def domain(self) -> str:
        return endpoint_host(self.client_endpoint)

    @property
    def limit_key(self) -> str:
        return f"portal:{self.member_id}"


@dataclass(frozen=True)
class RetryPolicy(crm_http.RetryPolicy):
    """Bitrix24's numbers; a wait we were told to keep is a floor under the jittered delay."""

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 2.0
    max_total_wait: float = 5.0


@dataclass(frozen=True)
class Bitrix24ClientOptions:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # How long a call may wait for a slot of the portal's bucket.
    limiter_timeout: float = 5.0
    # Tests and local development: every portal's calls go to this origin instead
    # (``<api_base_url>/<portal domain>/rest/<method>``); the stored endpoint is still validated.
    api_base_url: str | None = None
    user_agent: str = "franchise-platform-bitrix24/1.0"
    # Extra limiter keys drawn first (e.g. a smaller budget for background work).
    extra_limit_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Answer:
    """One REST answer (§3.2): ``result`` plus list paging (``total``/``next``) and ``time``."""

    result: Any
    total: int | None = None
    next: int | None = None
    time: Mapping[str, Any] = field(default_factory=dict)


def error_code(body: Mapping[str, Any]) -> str:
    raw = body.get("error")
    return raw if isinstance(raw, str) else ("" if raw is None else str(raw))


def error_for(status: int, body: Mapping[str, Any], *, method: str = "") -> CrmError:
    """Map a Bitrix24 error answer (§3.3) to the class the core acts on. ``error`` may be empty
    with the meaning only in ``error_description`` (all ``crm.deal.*`` errors)."""
    code = error_code(body)
    description = clip(str(body.get("error_description") or ""))
    message = f"Bitrix24 {method or 'call'} answered {status}: {code or '-'} {description}".strip()
    common: dict[str, Any] = {"status": status}
    vendor_code = code or "error"
    if code in EXPIRED_TOKEN_ERRORS:
        return CrmAuthError(message, code="expired_token", **common)
    if code in RATE_LIMIT_ERRORS:
        return CrmRateLimited(message, retry_after=1.0, code="query_limit_exceeded", **common)
    if code in OPERATING_LIMIT_ERRORS:
        return CrmRateLimited(message, retry_after=60.0, code="operation_time_limit", **common)
    if code in PAYMENT_ERRORS or (
        code == "ACCESS_DENIED" and status == 403 and "commercial" in description.lower()
    ):
        return CrmPaymentRequired(message, code="payment_required", **common)
    if code in REVOKED_ERRORS or (status == 403 and code != "ACCESS_DENIED"):
        return CrmAccessRevoked(message, code=vendor_code, **common)
    if code in AUTH_ERRORS or status == 401:
        return CrmAuthError(message, code=vendor_code, **common)
    if code in NOT_FOUND_ERRORS or description.lower().rstrip(".") in NOT_FOUND_DESCRIPTIONS:
        return CrmNotFound(message, code="not_found", **common)
    if code == "ERROR_METHOD_NOT_FOUND":
        return CrmError(message, code="method_not_found", **common)
    if status >= 500 or status in (408, 425, 429):
        return CrmUnavailable(message, code=vendor_code if code else f"http_{status}", **common)
    if status == 403:  # an object-level ACCESS_DENIED: the token's user may not touch it
        return CrmValidationError(message, errors=(f"{code}: {description}",), code="access_denied")
    return CrmValidationError(
        message, errors=(f"{code}: {description}" if code else description,), **common
    )


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def answer_of(body: Mapping[str, Any]) -> Answer:
    timing = body.get("time")
    return Answer(
        result=body.get("result"),
        total=_int_or_none(body.get("total")),
        next=_int_or_none(body.get("next")),
        time=timing if isinstance(timing, dict) else {},
    )


def _seconds(value: object) -> float | None:
    """A timing figure of the answer's ``time`` block (seconds or a Unix time; never money)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    return float(value)


class Bitrix24Client:
    """A thin, typed RPC wrapper bound to one portal's installation tokens."""

    def __init__(
        self,
        portal: Bitrix24Portal,
        token_store: TokenStore,
        limiter: RateLimiter,
        refresher: Callable[[OAuthTokens], OAuthTokens],
        http: httpx.Client | None = None,
        timeout: float = 10.0,
        *,
        options: Bitrix24ClientOptions | None = None,
        on_moved: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.portal = portal
        self._store = token_store
        self._limiter = limiter
        # refresher(stored) -> rotated pair; given by the connector (it holds the app's keys).
        self._rotate = refresher
        self._http = http if http is not None else shared_http_client()
        self._timeout = timeout
        self.options = options or Bitrix24ClientOptions()
        self._on_moved = on_moved
        self._sleep = sleep
        self._clock = clock

    def __repr__(self) -> str:
        return f"Bitrix24Client(member_id={self.portal.member_id!r})"

    # -- addresses --------------------------------------------------------------------------

    def _url(self, method: str) -> str:
        base = self.options.api_base_url
        if base:
            return f"{base.rstrip('/')}/{self.portal.domain}/rest/{method}"
        return self.portal.client_endpoint + method

    # -- tokens -----------------------------------------------------------------------------

    def _refresh(self, rejected_access_token: str | None) -> OAuthTokens:
        """Rotate under the store's lock unless another worker already did (§2.3): the stored
        pair is rotated only if it is still the one the portal refused (or it is past expiry)."""

        def refresher(stored: OAuthTokens) -> OAuthTokens:
            if rejected_access_token is not None:
                if stored.access_token != rejected_access_token:
                    return stored
            elif not stored.expires_within(0, now=self._clock()):
                return stored
            # The token endpoint is the OAuth server's, outside the portal's bucket.
            rotated = self._rotate(stored)
            logger.info("Bitrix24 portal %s: OAuth pair rotated", self.portal.member_id)
            return rotated

        return self._store.refresh(refresher)

    # -- limits -----------------------------------------------------------------------------

    def _acquire_slots(self, method: str | None) -> None:
        budget = self._limiter if isinstance(self._limiter, OperatingBudget) else None
        if method is not None and budget is not None:
            wait = budget.operating_wait(self.portal.limit_key, method)
            if wait > 0:
                raise CrmRateLimited(
                    f"Bitrix24 time budget of {method} is spent",
                    retry_after=wait,
                    code="operation_time_limit",
                )
        keys = (*self.options.extra_limit_keys, self.portal.limit_key)
        crm_http.acquire_slots(self._limiter, keys, self.options.limiter_timeout)

    def _note_time(self, method: str, timing: Mapping[str, Any]) -> None:
        if not isinstance(self._limiter, OperatingBudget):
            return
        operating = _seconds(timing.get("operating"))
        reset_at = _seconds(timing.get("operating_reset_at"))
        if operating is not None:
            self._limiter.note_operating(self.portal.limit_key, method, operating, reset_at)

    def _note_overrun(self, method: str, error: CrmError) -> None:
        if isinstance(self._limiter, OperatingBudget):
            if error.code == "query_limit_exceeded":
                self._limiter.saturate(self.portal.limit_key)
            elif error.code == "operation_time_limit":
                self._limiter.block_method(self.portal.limit_key, method, 60.0)

    # -- calls ------------------------------------------------------------------------------

    def _backoff(self, attempt: int, waited: float, retry_after: float | None) -> float | None:
        return self.options.retry.delay_before(attempt, waited, retry_after)

    def call(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        repeatable: bool | None = None,
        access_token: str | None = None,
    ) -> Answer:
        """Call one REST method with the installation's token; return its answer.

        ``repeatable``: whether a call that may have reached the portal can be sent again
        (default: everything but ``*.add``). Refused-before-processing answers
        (``QUERY_LIMIT_EXCEEDED``, connection errors) are always retried within the budget.
        ``access_token``: call as that token's user instead (a frame's ``AUTH_ID``); it is never
        refreshed, an expired one raises ``CrmAuthError``.
        """
        method = method.strip().lower()
        if not method or not set(method) <= _METHOD_CHARS:
            raise ValueError("bad Bitrix24 method name")
        if repeatable is None:
            repeatable = not method.endswith(".add")
        if access_token is not None:
            tokens = OAuthTokens(access_token, "", datetime.max.replace(tzinfo=UTC))
        else:
            tokens = self._store.current()
            if tokens.expires_within(0, now=self._clock()):
                tokens = self._refresh(None)
        refreshed = access_token is not None
        attempts = crm_http.CallAttempts(self._backoff, self._sleep)
        url = self._url(method)
        moved = False
        while True:
            attempt = attempts.start()
            self._acquire_slots(method)
            retry_after: float | None = None
            error: CrmError
            try:
                response = self._http.post(
                    url,
                    content=encode_json({**(params or {}), "auth": tokens.access_token}),
                    headers=self._headers(),
                    timeout=self._timeout,
                )
            except httpx.HTTPError as exc:
                error, can_retry = crm_http.transport_failure(
                    exc, vendor="Bitrix24", repeatable=repeatable
                )
            else:
                status = response.status_code
                logger.info(
                    "Bitrix24 %s -> %s (portal %s, attempt %s)",
                    method,
                    status,
                    self.portal.member_id,
                    attempt,
                )
                if status in (301, 302, 307, 308) and not moved:
                    url = self._follow_move(response, method)
                    moved = True
                    attempts.not_counted()
                    continue
                if 300 <= status < 400:  # a second move in one call, or a proxy's redirect
                    raise CrmUnavailable(
                        f"Bitrix24 {method} redirected again", code="redirect", status=status
                    )
                body = body_dict(response)
                if status == 200 and "error" not in body:
                    if "result" not in body:
                        raise CrmUnavailable(
                            f"Bitrix24 {method} answered without a result",
                            code="bad_response",
                            status=status,
                        )
                    answer = answer_of(body)
                    self._note_time(method, answer.time)
                    return answer
                if not body and status >= 500:
                    error = CrmUnavailable(
                        f"Bitrix24 {method} answered {status}", code=f"http_{status}", status=status
                    )
                elif not body and status == 200:
                    raise CrmUnavailable(
                        f"Bitrix24 {method} answered unreadable JSON",
                        code="bad_response",
                        status=status,
                    )
                else:
                    error = error_for(status if status != 200 else 400, body, method=method)
                if error.code == "expired_token" and not refreshed:
                    refreshed = True
                    tokens = self._refresh(tokens.access_token)
                    attempts.not_counted()
                    continue
                self._note_overrun(method, error)
                if error.code == "query_limit_exceeded":
                    can_retry = True  # refused before processing
                    retry_after = 0.5
                elif isinstance(error, CrmRateLimited):
                    raise error  # the method's time budget: minutes away, not for in-call waits
                else:
                    can_retry = isinstance(error, CrmUnavailable) and repeatable
            attempts.pause_or_raise(error, can_retry=can_retry, retry_after=retry_after)

    def _follow_move(self, response: httpx.Response, method: str) -> str:
        """§3.1: the portal changed its address; the old host names the new one. Only a valid
        https portal endpoint is followed (the body is re-sent, never auto-followed)."""
        location = response.headers.get("Location", "")
        parts = urlsplit(location)
        try:
            host = portal_host(parts.hostname or "")
        except ValueError:
            raise CrmUnavailable(
                "Bitrix24 redirected to an unusable address", code="bad_redirect"
            ) from None
        if parts.scheme != "https" or parts.port is not None or parts.username:
            raise CrmUnavailable("Bitrix24 redirected to an unusable address", code="bad_redirect")
        endpoint = f"https://{host}/rest/"
        self.portal = Bitrix24Portal(self.portal.member_id, endpoint)
        logger.warning("Bitrix24 portal %s moved to %s", self.portal.member_id, host)
        if self._on_moved is not None:
            self._on_moved(endpoint)
        return self._url(method)

    def _headers(self) -> dict[str, str]:
        return crm_http.json_headers(self.options.user_agent)

    def iter_list(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        items_key: str | None = None,
        max_pages: int = 20,
    ) -> Iterator[dict[str, Any]]:
        """Items of a list method (§3.5): ``start`` offsets of 50 until ``next`` is absent.
        ``items_key`` picks a nested list (``crm.item.list`` → ``items``)."""
        start = 0
        for _page in range(max_pages):
            answer = self.call(method, {**(params or {}), "start": start})
            result = answer.result
            if items_key is not None:
                result = result.get(items_key) if isinstance(result, dict) else None
            if not isinstance(result, list):
                return
            yield from (item for item in result if isinstance(item, dict))
            if answer.next is None or answer.next <= start or len(result) < PAGE_SIZE:
                return
            start = answer.next
