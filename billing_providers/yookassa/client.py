"""The one place that talks to YooKassa over the network (httpx): the API v3 and the OAuth server.

Every POST and DELETE carries an ``Idempotence-Key`` chosen by the caller (§1.3), so a timeout,
a 5xx, a 429 or a 202 is repeated with the same key and can never create a second object. After
the last attempt the problem becomes ``ProviderUnavailable`` (the caller may repeat later with the
same key, or read the object). Refusals become ``RequestRefused`` (a ``ProviderConfigError``) or
``NotFound``; unreadable answers ``ProviderResponseError``. Secrets never reach messages or logs.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from billing_providers.errors import (
    ProviderConfigError,
    ProviderResponseError,
    ProviderUnavailable,
)
from billing_providers.yookassa import consts

logger = logging.getLogger(__name__)

_MAX_BODY = 2_000_000
_IDEMPOTENCE_KEY = re.compile(consts.IDEMPOTENCE_KEY_PATTERN)
_RETRYABLE_STATUSES = frozenset({202, 429, 500, 502, 503, 504})

Sleep = Callable[[float], None]


@dataclass(frozen=True)
class Credentials:
    """How one call authenticates: Basic ``shop_id:secret_key`` or Bearer ``oauth_token``
    (exactly one, §1.2). Secrets never appear in ``repr``."""

    shop_id: str = ""
    secret_key: str = field(default="", repr=False)
    oauth_token: str = field(default="", repr=False)

    def header(self) -> str:
        """The ``Authorization`` value. Raises ProviderConfigError when incomplete."""
        if self.oauth_token:
            return f"Bearer {self.oauth_token}"
        if self.shop_id and self.secret_key:
            raw = f"{self.shop_id}:{self.secret_key}".encode()
            return "Basic " + base64.b64encode(raw).decode("ascii")
        raise ProviderConfigError(
            "The shop has neither an OAuth token nor a shopId and secret key",
            code="missing_secret",
        )

    @property
    def is_oauth(self) -> bool:
        return bool(self.oauth_token)


class RequestRefused(ProviderConfigError):
    """YooKassa refused the request (HTTP 400, 401, 403, 405, 415): the same request will be
    refused again. ``api_code`` is YooKassa's ``code`` (``invalid_request``,
    ``invalid_credentials``, ``forbidden``…), ``parameter`` the field at fault if named."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int,
        parameter: str | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.parameter = parameter
        self.description = description


class NotFound(ProviderResponseError):
    """HTTP 404 ``not_found``: YooKassa knows no such object for these credentials."""

    default_code = "not_found"


def parse_datetime(raw: object) -> datetime | None:
    """YooKassa's ISO 8601 UTC stamps (``2018-07-18T10:51:18.139Z``); None when unparsable."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


_shared_lock = threading.Lock()
_shared: tuple[int, httpx.Client] | None = None


def _shared_http_client() -> httpx.Client:
    """One pooled client per process, recreated after a fork."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared[0] != os.getpid():
            _shared = (os.getpid(), httpx.Client(follow_redirects=False))
        return _shared[1]


def check_idempotence_key(key: str) -> str:
    """The key as given, or ProviderConfigError when YooKassa would refuse it (§1.3)."""
    if not _IDEMPOTENCE_KEY.fullmatch(key):
        raise ProviderConfigError(
            "An Idempotence-Key is 1-64 characters of [0-9a-zA-Z+-_.]", code="bad_idempotence_key"
        )
    return key


def error_fields(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after_seconds(body: Mapping[str, Any], default_ms: int) -> float:
    raw = body.get("retry_after")
    millis = raw if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0 else default_ms
    return min(millis, 60_000) / 1000


class RetryingTransport:
    """The request loop shared by the API client and the OAuth client (oauth.py)."""

    vendor = "YooKassa"

    def __init__(
        self,
        *,
        http_client: httpx.Client | None,
        timeout: float,
        max_attempts: int,
        sleep: Sleep,
        backoff_seconds: float,
    ) -> None:
        self._http = http_client
        self._timeout = timeout
        self._max_attempts = max(1, max_attempts)
        self._sleep = sleep
        self._backoff = backoff_seconds

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One logical call, repeated (identically) on no answer, 5xx, 429 and 202."""
        http = self._http if self._http is not None else _shared_http_client()
        problem = ProviderUnavailable(f"{self.vendor} did not answer", code="network_error")
        for attempt in range(1, self._max_attempts + 1):
            try:
                response = http.request(method, url, timeout=self._timeout, **kwargs)
            except httpx.TimeoutException:
                problem = ProviderUnavailable(
                    f"{self.vendor} did not answer in time", code="timeout"
                )
                delay = self._backoff * 2 ** (attempt - 1)
            except httpx.HTTPError as exc:
                problem = ProviderUnavailable(
                    f"Network error talking to {self.vendor} ({type(exc).__name__})",
                    code="network_error",
                )
                delay = self._backoff * 2 ** (attempt - 1)
            else:
                if response.status_code not in _RETRYABLE_STATUSES:
                    return response
                body = error_fields(response)
                status = response.status_code
                logger.warning("%s answered HTTP %s to %s", self.vendor, status, response.url.path)
                code = {202: "processing", 429: "rate_limited"}.get(status, "http_error")
                problem = ProviderUnavailable(f"{self.vendor} answered HTTP {status}", code=code)
                if status == 202 or "retry_after" in body:
                    delay = _retry_after_seconds(body, consts.DEFAULT_RETRY_AFTER_MS)
                else:
                    delay = self._backoff * 2 ** (attempt - 1)
            if attempt < self._max_attempts:
                self._sleep(delay * random.uniform(1.0, 1.25))  # noqa: S311 - jitter only
        raise problem


class YooKassaClient(RetryingTransport):
    """Thin wrapper over API v3. ``max_attempts`` bounds the identical repeats of one call;
    ``sleep`` is how it waits between them (tests pass a recorder)."""

    def __init__(
        self,
        *,
        api_base_url: str = consts.API_BASE_URL,
        http_client: httpx.Client | None = None,
        timeout: float = 10.0,
        max_attempts: int = 3,
        sleep: Sleep = time.sleep,
        backoff_seconds: float = 0.5,
    ) -> None:
        super().__init__(
            http_client=http_client,
            timeout=timeout,
            max_attempts=max_attempts,
            sleep=sleep,
            backoff_seconds=backoff_seconds,
        )
        self.api_base_url = api_base_url.rstrip("/")

    def request(
        self,
        method: str,
        path: str,
        credentials: Credentials,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        idempotence_key: str | None = None,
    ) -> dict[str, Any]:
        """Call ``path`` and return the decoded object. POST and DELETE need a key.

        Raises RequestRefused, NotFound, ProviderUnavailable, ProviderResponseError."""
        headers = {"Authorization": credentials.header(), "Accept": "application/json"}
        if method in ("POST", "DELETE"):
            if idempotence_key is None:
                raise ProviderConfigError(
                    f"{method} {path} needs an Idempotence-Key", code="bad_idempotence_key"
                )
            headers[consts.IDEMPOTENCE_HEADER] = check_idempotence_key(idempotence_key)
        content: bytes | None = None
        if method == "POST":
            headers["Content-Type"] = "application/json"
            content = _encode(body or {})
        response = self._send(
            method, self.api_base_url + path, headers=headers, content=content, params=params
        )
        return decode_answer(response, path)

    # payments (§2, §3) ----------------------------------------------------------------------

    def create_payment(
        self, credentials: Credentials, body: Mapping[str, Any], *, idempotence_key: str
    ) -> dict[str, Any]:
        return self.request(
            "POST", consts.PAYMENTS_PATH, credentials, body=body, idempotence_key=idempotence_key
        )

    def get_payment(self, credentials: Credentials, payment_id: str) -> dict[str, Any]:
        return self.request("GET", f"{consts.PAYMENTS_PATH}/{_object_id(payment_id)}", credentials)

    def list_payments(self, credentials: Credentials, params: Mapping[str, str]) -> dict[str, Any]:
        return self.request("GET", consts.PAYMENTS_PATH, credentials, params=params)

    def capture_payment(
        self, credentials: Credentials, payment_id: str, *, idempotence_key: str
    ) -> dict[str, Any]:
        path = f"{consts.PAYMENTS_PATH}/{_object_id(payment_id)}/capture"
        return self.request("POST", path, credentials, idempotence_key=idempotence_key)

    def cancel_payment(
        self, credentials: Credentials, payment_id: str, *, idempotence_key: str
    ) -> dict[str, Any]:
        path = f"{consts.PAYMENTS_PATH}/{_object_id(payment_id)}/cancel"
        return self.request("POST", path, credentials, idempotence_key=idempotence_key)

    # refunds (§5), receipts (§4.5), shop (§7.4) -----------------------------------------------

    def create_refund(
        self, credentials: Credentials, body: Mapping[str, Any], *, idempotence_key: str
    ) -> dict[str, Any]:
        return self.request(
            "POST", consts.REFUNDS_PATH, credentials, body=body, idempotence_key=idempotence_key
        )

    def get_refund(self, credentials: Credentials, refund_id: str) -> dict[str, Any]:
        return self.request("GET", f"{consts.REFUNDS_PATH}/{_object_id(refund_id)}", credentials)

    def create_receipt(
        self, credentials: Credentials, body: Mapping[str, Any], *, idempotence_key: str
    ) -> dict[str, Any]:
        return self.request(
            "POST", consts.RECEIPTS_PATH, credentials, body=body, idempotence_key=idempotence_key
        )

    def get_receipt(self, credentials: Credentials, receipt_id: str) -> dict[str, Any]:
        return self.request("GET", f"{consts.RECEIPTS_PATH}/{_object_id(receipt_id)}", credentials)

    def me(self, credentials: Credentials) -> dict[str, Any]:
        return self.request("GET", consts.ME_PATH, credentials)

    # webhooks: OAuth tokens only (§6.4) --------------------------------------------------------

    def list_webhooks(self, credentials: Credentials) -> list[dict[str, Any]]:
        answer = self.request("GET", consts.WEBHOOKS_PATH, _oauth_only(credentials))
        items = answer.get("items")
        if not isinstance(items, list):
            raise ProviderResponseError("The webhook list has no items", code="bad_response")
        return [item for item in items if isinstance(item, dict)]

    def create_webhook(
        self, credentials: Credentials, *, event: str, url: str, idempotence_key: str
    ) -> dict[str, Any]:
        return self.request(
            "POST",
            consts.WEBHOOKS_PATH,
            _oauth_only(credentials),
            body={"event": event, "url": url},
            idempotence_key=idempotence_key,
        )

    def delete_webhook(
        self, credentials: Credentials, webhook_id: str, *, idempotence_key: str
    ) -> None:
        path = f"{consts.WEBHOOKS_PATH}/{_object_id(webhook_id)}"
        self.request("DELETE", path, _oauth_only(credentials), idempotence_key=idempotence_key)

    def ensure_webhooks(
        self,
        credentials: Credentials,
        *,
        url: str,
        events: Sequence[str] = consts.WEBHOOK_EVENTS,
        key_prefix: str = "wh",
    ) -> list[dict[str, Any]]:
        """Make the token's subscriptions to ``events`` point at ``url`` (one per event):
        subscriptions of these events elsewhere are deleted, missing ones created. Safe to run
        again: the list read first is what prevents duplicates, so every write gets a fresh key
        (a derived one would replay a webhook deleted earlier the same day)."""
        kept: list[dict[str, Any]] = []
        for hook in self.list_webhooks(credentials):
            if hook.get("event") not in events:
                continue
            if hook.get("url") == url:
                kept.append(hook)
            else:
                self.delete_webhook(
                    credentials,
                    str(hook.get("id") or ""),
                    idempotence_key=f"{key_prefix[:24]}-{uuid.uuid4().hex}",
                )
        have = {hook.get("event") for hook in kept}
        for event in events:
            if event not in have:
                kept.append(
                    self.create_webhook(
                        credentials,
                        event=event,
                        url=url,
                        idempotence_key=f"{key_prefix[:24]}-{uuid.uuid4().hex}",
                    )
                )
        return kept


def _oauth_only(credentials: Credentials) -> Credentials:
    if not credentials.is_oauth:
        raise ProviderConfigError(
            "Webhooks are managed by API only with an OAuth token", code="oauth_required"
        )
    return credentials


def _object_id(value: str) -> str:
    # Ids go into the path: refuse anything that could change it.
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value or ""):
        raise ProviderConfigError("Not a YooKassa object id", code="bad_object_id")
    return value


def _encode(body: Mapping[str, Any]) -> bytes:
    def default(value: object) -> str:
        if isinstance(value, Decimal):  # never through a float
            return format(value, "f")
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=default).encode()


def decode_answer(response: httpx.Response, what: str) -> dict[str, Any]:
    status = response.status_code
    if status != 200:
        fields = error_fields(response)
        api_code = str(fields.get("code") or "http_error")[:64]
        parameter = fields.get("parameter")
        description = fields.get("description")
        detail = f"YooKassa answered HTTP {status} {api_code}"
        if isinstance(parameter, str) and parameter:
            detail += f" (parameter {parameter[:64]})"
        if status == 404:
            raise NotFound(detail)
        raise RequestRefused(
            detail,
            code=api_code,
            status=status,
            parameter=parameter[:64] if isinstance(parameter, str) else None,
            description=description[:300] if isinstance(description, str) else None,
        )
    if len(response.content) > _MAX_BODY:
        raise ProviderResponseError("YooKassa's answer is too large", code="bad_response")
    try:
        answer = json.loads(response.content, parse_float=Decimal)
    except ValueError:
        raise ProviderResponseError(
            f"The {what} answer is not JSON", code="bad_response", permanent=False
        ) from None
    if not isinstance(answer, dict):
        raise ProviderResponseError(f"The {what} answer is not an object", code="bad_response")
    return answer
