"""The one place that talks to amoCRM over HTTP.

Every call: a timeout, a slot from the shared rate limiter, a Bearer token refreshed ahead of
expiry through the ``TokenStore`` lock, one refresh-and-retry on 401, bounded backoff with full
jitter on 429/5xx, and a ``CrmError`` subclass for everything else. Tokens never reach a log
line or an exception message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from crm_connectors import http as crm_http
from crm_connectors.amocrm.consts import MAX_PAGE_SIZE, TOKEN_PATH
from crm_connectors.base import CrmAccountRef, OAuthTokens, RateLimiter, TokenStore
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
from crm_connectors.http import body_dict, clip
from crm_connectors.http import decode_json as decode_json  # the amoCRM modules' JSON reader
from crm_connectors.http import shared_http_client as shared_http_client  # the core connects here

logger = logging.getLogger(__name__)

# Methods whose repetition cannot create a second entity: every PATCH we send sets absolute
# values. POST (notes, fields) is retried in here only when amoCRM surely did not process it.
_REPEATABLE_METHODS = frozenset({"GET", "HEAD", "PATCH", "PUT", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy(crm_http.RetryPolicy):
    """amoCRM's numbers; a 429's Retry-After is waited out plus a little jitter."""

    max_attempts: int = 3
    base_delay: float = 0.25
    max_delay: float = 2.0
    max_total_wait: float = 4.0
    jitter_over_retry_after: bool = True


@dataclass(frozen=True)
class AmoClientOptions:
    # Refresh the access token when it expires within this many seconds. The spec (§7.2)
    # suggests ~1 h; each refresh rotates the pair, so it is not done more often than needed.
    refresh_margin_seconds: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # How long a call may wait for a rate-limit slot before giving up with CrmRateLimited.
    limiter_timeout: float = 3.0
    # §2.8 UNCERTAIN: the 7 rps may be per integration/IP rather than per account. Setting a
    # key here makes every account share that budget as well.
    shared_limit_key: str | None = None
    user_agent: str = "franchise-platform-amocrm/1.0"


def encode_json(value: Any) -> bytes:
    """JSON for amoCRM: a whole ``Decimal`` goes out as an integer (its price field is one)."""
    return crm_http.encode_json(value, integral_as_integer=True)


def _validation_errors(body: Mapping[str, Any]) -> tuple[str, ...]:
    found: list[str] = []
    groups = body.get("validation-errors")
    if isinstance(groups, list):
        for group in groups[:10]:
            errors = group.get("errors") if isinstance(group, dict) else None
            for item in errors if isinstance(errors, list) else []:
                if isinstance(item, dict):
                    parts = [str(item.get(k, "")) for k in ("code", "path", "detail")]
                    found.append(clip(" ".join(p for p in parts if p)))
    return tuple(found[:20])


def _retry_after(response: httpx.Response, body: Mapping[str, Any]) -> float | None:
    raw: object = response.headers.get("Retry-After", body.get("retry_after"))
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | Decimal):
        return max(0, int(raw))
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw.strip())
    return None


# Answers that say the request itself can never succeed as sent (besides 400-404 and 422 above).
_PERMANENT_STATUSES = frozenset({405, 406, 410, 411, 413, 414, 415, 501})


def error_for_response(response: httpx.Response) -> CrmError:
    """Map a non-2xx amoCRM answer to the error class the core acts on (spec §2.7)."""
    status = response.status_code
    request_id = response.headers.get("X-Request-Id")
    body = body_dict(response)
    detail = clip(str(body.get("detail") or body.get("title") or "")) or f"HTTP {status}"
    message = f"amoCRM answered {status}: {detail}"
    common: dict[str, Any] = {"status": status, "request_id": request_id}
    if status in (400, 422):
        errors = _validation_errors(body)
        return CrmValidationError(
            message + "".join(f"; {e}" for e in errors), errors=errors, **common
        )
    if status == 401:
        return CrmAuthError(message, code="unauthorized", **common)
    if status == 402:
        return CrmPaymentRequired(message, **common)
    if status == 403:
        # Either an API ban after repeated 429s (often an HTML page) or a disabled integration.
        return CrmAccessRevoked(message, code="forbidden", **common)
    if status == 404:
        return CrmNotFound(message, **common)
    if status == 429:
        return CrmRateLimited(message, retry_after=_retry_after(response, body), **common)
    if status in _PERMANENT_STATUSES:
        return CrmError(message, code=f"http_{status}", **common)
    # 5xx, and anything we do not know to be final (408, 409, 423, 425, a 3xx from a proxy in
    # front of amoCRM...): retried within the outbox's time window, never dead at once.
    return CrmUnavailable(message, code=f"http_{status}", **common)


def request_tokens(
    http: httpx.Client, base_url: str, payload: Mapping[str, str], *, timeout: float
) -> dict[str, Any]:
    """POST the token endpoint (§1.2). 400/401 → CrmAuthError(code="invalid_grant")."""
    url = base_url.rstrip("/") + TOKEN_PATH
    try:
        response = http.post(
            url,
            content=encode_json(dict(payload)),
            timeout=timeout,
            headers={"Content-Type": "application/json"},
        )
    except httpx.HTTPError as exc:
        raise CrmUnavailable(
            f"token endpoint unreachable: {type(exc).__name__}", code="network"
        ) from None
    if response.status_code in (400, 401):
        body = body_dict(response)
        hint = clip(str(body.get("hint") or body.get("detail") or body.get("title") or ""))
        raise CrmAuthError(
            f"amoCRM refused the grant: {hint or response.status_code}",
            code="invalid_grant",
            status=response.status_code,
        )
    if response.status_code != 200:
        raise error_for_response(response)
    body = body_dict(response)
    if not isinstance(body.get("access_token"), str) or not isinstance(
        body.get("refresh_token"), str
    ):
        raise CrmUnavailable("token endpoint answered without a token pair", code="bad_response")
    return body


def tokens_from_response(body: Mapping[str, Any], *, now: datetime) -> OAuthTokens:
    expires_in = body.get("expires_in")
    seconds = int(expires_in) if isinstance(expires_in, int | Decimal) else 86400
    return OAuthTokens(
        access_token=str(body["access_token"]),
        refresh_token=str(body["refresh_token"]),
        expires_at=now + timedelta(seconds=seconds),
    )


class AmoClient:
    """A thin, typed HTTP wrapper bound to one amoCRM account."""

    def __init__(
        self,
        account: CrmAccountRef,
        token_store: TokenStore,
        limiter: RateLimiter,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        http: httpx.Client | None = None,
        timeout: float = 10.0,
        *,
        options: AmoClientOptions | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.account = account
        self._store = token_store
        self._limiter = limiter
        self._client_id = client_id
        self._client_secret = client_secret
        self._redirect_uri = redirect_uri
        self._http = http if http is not None else shared_http_client()
        self._timeout = timeout
        self.options = options or AmoClientOptions()
        self._sleep = sleep
        self._clock = clock

    def __repr__(self) -> str:
        return (
            f"AmoClient(account_id={self.account.account_id}, base_url={self.account.base_url!r})"
        )

    # -- tokens ---------------------------------------------------------------------------

    def _fresh_tokens(self) -> OAuthTokens:
        tokens = self._store.current()
        if tokens.expires_within(self.options.refresh_margin_seconds, now=self._clock()):
            tokens = self._store.refresh(self._refresher(stale_access_token=None))
        return tokens

    def _refresher(self, *, stale_access_token: str | None) -> Callable[[OAuthTokens], OAuthTokens]:
        margin = self.options.refresh_margin_seconds

        def refresher(stored: OAuthTokens) -> OAuthTokens:
            rejected = stale_access_token is not None and stored.access_token == stale_access_token
            if not rejected and not stored.expires_within(margin, now=self._clock()):
                return stored  # another worker rotated the pair while we waited for the lock
            self._acquire_slot()
            body = request_tokens(
                self._http,
                self.account.base_url,
                {
                    "client_id": self._client_id,
                    "client_secret": self._client_secret,
                    "grant_type": "refresh_token",
                    "refresh_token": stored.refresh_token,
                    "redirect_uri": self._redirect_uri,
                },
                timeout=self._timeout,
            )
            logger.info("amoCRM account %s: OAuth pair rotated", self.account.account_id)
            return tokens_from_response(body, now=self._clock())

        return refresher

    # -- rate limit -----------------------------------------------------------------------

    def _acquire_slot(self) -> None:
        # The extra budget first: a caller held back by it (e.g. background work kept below the
        # account's limit so interactive calls always find a slot) has not yet taken a slot of
        # the account's own budget while it waits.
        keys = [f"account:{self.account.account_id}"]
        if self.options.shared_limit_key:
            keys.insert(0, self.options.shared_limit_key)
        crm_http.acquire_slots(self._limiter, keys, self.options.limiter_timeout)

    # -- requests -------------------------------------------------------------------------

    def _backoff(self, attempt: int, waited: float, retry_after: float | None) -> float | None:
        """Seconds to sleep before the next attempt, or None when the budget is spent."""
        return self.options.retry.delay_before(attempt, waited, retry_after)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
    ) -> Any:
        """Send one API call; return the parsed JSON body, or None for 204/empty answers."""
        method = method.upper()
        repeatable = method in _REPEATABLE_METHODS
        url = self.account.base_url + path
        content = encode_json(body) if body is not None else None
        tokens = self._fresh_tokens()
        refreshed_after_401 = False
        attempts = crm_http.CallAttempts(self._backoff, self._sleep)
        while True:
            attempt = attempts.start()
            self._acquire_slot()
            error: CrmError
            retry_after: float | None = None
            try:
                response = self._http.request(
                    method,
                    url,
                    params=params,
                    content=content,
                    headers=self._headers(tokens),
                    timeout=self._timeout,
                )
            except httpx.HTTPError as exc:
                error, can_retry = crm_http.transport_failure(
                    exc, vendor="amoCRM", repeatable=repeatable
                )
            else:
                status = response.status_code
                logger.info(
                    "amoCRM %s %s -> %s (account %s, attempt %s, request id %s)",
                    method,
                    path,
                    status,
                    self.account.account_id,
                    attempt,
                    response.headers.get("X-Request-Id"),
                )
                if 200 <= status < 300:
                    return self._parse(response)
                if status == 401 and not refreshed_after_401:
                    refreshed_after_401 = True
                    tokens = self._store.refresh(
                        self._refresher(stale_access_token=tokens.access_token)
                    )
                    attempts.not_counted()
                    continue
                error = error_for_response(response)
                if isinstance(error, CrmRateLimited):
                    retry_after = error.retry_after
                    can_retry = True  # a 429 was not processed
                else:
                    can_retry = isinstance(error, CrmUnavailable) and repeatable
            attempts.pause_or_raise(error, can_retry=can_retry, retry_after=retry_after)

    def _headers(self, tokens: OAuthTokens) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {tokens.access_token}",
            **crm_http.json_headers(self.options.user_agent),
        }

    @staticmethod
    def _parse(response: httpx.Response) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return decode_json(response.content)
        except ValueError:
            raise CrmUnavailable(
                "amoCRM answered with unparseable JSON",
                code="bad_response",
                status=response.status_code,
            ) from None

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body=body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, body=body)

    def iter_collection(
        self,
        path: str,
        embedded_key: str,
        params: Mapping[str, str | int] | None = None,
        *,
        max_pages: int = 20,
    ) -> Iterator[dict[str, Any]]:
        """Items of a paginated list (§2.6), stopping at 204, a missing next link or a short
        page; ``max_pages`` bounds the walk so a misbehaving account cannot spin us."""
        for page in range(1, max_pages + 1):
            query: dict[str, str | int] = {**(params or {}), "page": page, "limit": MAX_PAGE_SIZE}
            try:
                data = self.get(path, query)
            except CrmNotFound as exc:
                # A list that exists answered 404: seen while amoCRM recovers from an outage;
                # an empty list is 204. Worth another try later, not a final answer.
                raise CrmUnavailable(
                    f"amoCRM answered 404 on a list: {path}",
                    code="list_not_found",
                    status=exc.status,
                    request_id=exc.request_id,
                ) from None
            if not isinstance(data, dict):
                return
            embedded = data.get("_embedded")
            items = embedded.get(embedded_key) if isinstance(embedded, dict) else None
            if not isinstance(items, list):
                return
            yield from (item for item in items if isinstance(item, dict))
            links = data.get("_links")
            has_next = isinstance(links, dict) and isinstance(links.get("next"), dict)
            if not has_next or len(items) < MAX_PAGE_SIZE:
                return
