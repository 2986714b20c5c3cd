"""amoCRM OAuth 2.0 (spec §1): consent URL, code exchange, refresh, the disconnect hook, and
reference token stores (the core keeps its own, encrypted, in the database)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx

from crm_connectors.amocrm.client import (
    decode_json,
    error_for_response,
    request_tokens,
    tokens_from_response,
)
from crm_connectors.amocrm.consts import ACCOUNT_HOST_RE, OAUTH_CONSENT_URL
from crm_connectors.base import OAuthTokens
from crm_connectors.errors import CrmError, CrmUnavailable

if TYPE_CHECKING:
    from redis import Redis


def build_authorize_url(
    client_id: str, state: str, mode: str = "popup", *, consent_url: str = OAUTH_CONSENT_URL
) -> str:
    """The consent page the owner is sent to; amoCRM redirects to the saved Redirect URI."""
    if mode not in ("popup", "post_message"):
        raise ValueError("mode must be 'popup' or 'post_message'")
    return f"{consent_url}?{urlencode({'client_id': client_id, 'state': state, 'mode': mode})}"


def account_host(referer: str) -> str:
    """The canonical amoCRM/Kommo account host the OAuth ``referer`` names (untrusted input), or
    ValueError.

    One strict parse, and its result is the only thing ever stored or called: a bare host
    (``example.amocrm.ru``), optionally written as ``https://example.amocrm.ru`` with one trailing
    slash. No userinfo, port, path, query, fragment, backslash, percent escape, IP literal or
    second scheme can pass, because whatever is left after removing that one prefix must be a
    whole account host of a known amoCRM/Kommo domain (a forged host would receive our client
    secret on the exchange and on every refresh).
    """
    if not isinstance(referer, str):
        raise ValueError("referer is not an amoCRM account host")
    host = referer.strip().lower()
    if host.startswith("https://"):
        host = host[len("https://") :]
        if host.endswith("/"):
            host = host[:-1]
    if not ACCOUNT_HOST_RE.fullmatch(host):
        raise ValueError("referer is not an amoCRM account host")
    return host


def account_origin(host: str) -> str:
    """``https://<host>`` for a host that passes ``account_host``; ValueError otherwise."""
    canonical = account_host(host)
    if canonical != host:
        raise ValueError("not a canonical amoCRM account host")
    return f"https://{canonical}"


def stored_account_host(base_url: str) -> str:
    """The host of a stored ``https://<account host>`` base URL, re-validated (rows written before
    the strict parse may hold anything); ValueError when it is not exactly that."""
    if not isinstance(base_url, str) or not base_url.startswith("https://"):
        raise ValueError("stored base URL is not an amoCRM account origin")
    host = base_url[len("https://") :]
    if not ACCOUNT_HOST_RE.fullmatch(host):
        raise ValueError("stored base URL is not an amoCRM account origin")
    return host


def account_base_url(referer: str, *, api_base_url: str | None = None) -> str:
    """Where to call for the account named by the OAuth ``referer`` (untrusted input).

    The referer is validated even when the ``AMOCRM_API_BASE_URL`` override (tests, dev) wins,
    so that the host stored next to the tokens is always a real account host.
    """
    origin = f"https://{account_host(referer)}"
    if api_base_url:
        return api_base_url.rstrip("/")
    return origin


def exchange_code(
    http: httpx.Client,
    base_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    *,
    timeout: float = 10.0,
    now: datetime | None = None,
) -> OAuthTokens:
    """Trade a single-use authorization code (valid 20 min) for a token pair.

    Raises CrmAuthError(code="invalid_grant") for a used/expired code or wrong client
    settings, CrmUnavailable when amoCRM cannot be reached.
    """
    body = request_tokens(
        http,
        base_url,
        {
            "client_id": client_id,
            "client_secret": client_secret,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
        },
        timeout=timeout,
    )
    return tokens_from_response(body, now=now or datetime.now(UTC))


def refresh_tokens(
    http: httpx.Client,
    base_url: str,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    redirect_uri: str,
    *,
    timeout: float = 10.0,
    now: datetime | None = None,
) -> OAuthTokens:
    """Rotate the pair. Call it only under the account's lock (``TokenStore.refresh``): the
    old refresh token dies with this call. On CrmUnavailable keep the old pair and retry."""
    body = request_tokens(
        http,
        base_url,
        {
            "client_id": client_id,
            "client_secret": client_secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "redirect_uri": redirect_uri,
        },
        timeout=timeout,
    )
    return tokens_from_response(body, now=now or datetime.now(UTC))


@dataclass(frozen=True)
class AccountInfo:
    account_id: int
    subdomain: str
    name: str
    current_user_id: int | None


def fetch_account(
    http: httpx.Client, base_url: str, tokens: OAuthTokens, *, timeout: float = 10.0
) -> AccountInfo:
    """``GET /api/v4/account`` right after the exchange, to learn which account granted access.

    One call at install time, before the account id (the limiter's key) is known.
    """
    try:
        response = http.get(
            base_url.rstrip("/") + "/api/v4/account",
            headers={"Authorization": f"Bearer {tokens.access_token}"},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise CrmUnavailable(f"amoCRM unreachable: {type(exc).__name__}", code="network") from None
    if response.status_code != 200:
        raise error_for_response(response)
    try:
        data = decode_json(response.content)
        user = data.get("current_user_id")
        return AccountInfo(
            account_id=int(data["id"]),
            subdomain=str(data.get("subdomain") or ""),
            name=str(data.get("name") or ""),
            current_user_id=user if isinstance(user, int) else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CrmUnavailable("unexpected /api/v4/account answer", code="bad_response") from None


def disconnect_signature(client_uuid: str, account_id: int | str, client_secret: str) -> str:
    """hex(HMAC-SHA256(client_secret, f"{client_uuid}|{account_id}")) (spec §1.5)."""
    message = f"{client_uuid}|{account_id}".encode()
    return hmac.new(client_secret.encode(), message, hashlib.sha256).hexdigest()


def verify_disconnect_signature(
    client_uuid: str,
    account_id: int | str,
    signature: str,
    client_secret: str,
    *,
    client_id: str | None = None,
) -> bool:
    """Check the access-revoked hook; pass ``client_id`` to also require our integration id."""
    if client_id is not None and not hmac.compare_digest(client_uuid.encode(), client_id.encode()):
        return False
    if not str(account_id).isdigit() or not signature.isascii():
        return False
    expected = disconnect_signature(client_uuid, account_id, client_secret)
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


# -- reference token stores ----------------------------------------------------------------


class InMemoryTokenStore:
    """A process-local store with a lock; for the dummy set-up and unit tests."""

    def __init__(self, tokens: OAuthTokens) -> None:
        self._tokens = tokens
        self._lock = threading.Lock()
        self.saves = 0

    def current(self) -> OAuthTokens:
        with self._lock:
            return self._tokens

    def refresh(self, refresher: Callable[[OAuthTokens], OAuthTokens]) -> OAuthTokens:
        with self._lock:
            stored = self._tokens
            rotated = refresher(stored)
            if rotated is not stored:
                self._tokens = rotated
                self.saves += 1
            return self._tokens


class RedisTokenStore:
    """Tokens in a Redis key, refreshes serialised by a Redis lock: the shape the core's
    database store follows (lock, re-read, maybe refresh, save, unlock), usable across
    processes. Reference only: it keeps tokens unencrypted."""

    def __init__(
        self,
        redis: Redis[Any],
        key: str,
        *,
        lock_timeout: float = 30.0,
        wait_timeout: float = 15.0,
        poll_interval: float = 0.02,
    ) -> None:
        self._redis = redis
        self._key = key
        self._lock_timeout = lock_timeout
        self._wait_timeout = wait_timeout
        self._poll_interval = poll_interval

    def __repr__(self) -> str:
        return f"RedisTokenStore(key={self._key!r})"

    def save(self, tokens: OAuthTokens) -> None:
        payload = {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at.isoformat(),
        }
        self._redis.set(self._key, json.dumps(payload))

    def current(self) -> OAuthTokens:
        raw = self._redis.get(self._key)
        if raw is None:
            raise CrmError("no tokens stored", code="no_tokens")
        data = json.loads(raw)
        return OAuthTokens(
            access_token=data["access_token"],
            refresh_token=data["refresh_token"],
            expires_at=datetime.fromisoformat(data["expires_at"]),
        )

    def refresh(self, refresher: Callable[[OAuthTokens], OAuthTokens]) -> OAuthTokens:
        lock = self._redis.lock(
            f"{self._key}:lock",
            timeout=self._lock_timeout,
            sleep=self._poll_interval,
            blocking_timeout=self._wait_timeout,
        )
        if not lock.acquire():
            raise CrmUnavailable("token refresh lock is busy", code="refresh_lock_busy")
        try:
            stored = self.current()
            rotated = refresher(stored)
            if rotated is not stored:
                self.save(rotated)
            return rotated
        finally:
            lock.release()
