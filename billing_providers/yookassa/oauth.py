"""YooKassa's OAuth server for partner apps (§7): the authorize URL, the code exchange and
revocation. The HTTP goes through the client module's ``RetryingTransport``."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from billing_providers.errors import ProviderConfigError, ProviderResponseError
from billing_providers.yookassa import consts
from billing_providers.yookassa.client import (
    RequestRefused,
    RetryingTransport,
    Sleep,
    decode_answer,
    error_fields,
)


@dataclass(frozen=True)
class OAuthToken:
    """A partner token for one shop (§7.2): no refresh token; reconnect before ``expires_at``."""

    access_token: str = field(repr=False)
    expires_at: datetime | None


class OAuthClient(RetryingTransport):
    """The partner app on YooKassa's OAuth server (§7): the authorize URL, the code exchange
    and revocation. ``client_secret`` is sent only as Basic credentials, never logged."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        oauth_base_url: str = consts.OAUTH_BASE_URL,
        http_client: httpx.Client | None = None,
        timeout: float = 10.0,
        max_attempts: int = 2,
        sleep: Sleep = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(
            http_client=http_client,
            timeout=timeout,
            max_attempts=max_attempts,
            sleep=sleep,
            backoff_seconds=0.5,
        )
        if not client_id or not client_secret:
            raise ProviderConfigError(
                "The YooKassa OAuth app needs a client id and secret", code="missing_oauth_app"
            )
        self.client_id = client_id
        self._client_secret = client_secret
        self.oauth_base_url = oauth_base_url.rstrip("/")
        self._clock = clock

    def __repr__(self) -> str:
        return f"OAuthClient(client_id={self.client_id!r})"

    def authorize_url(self, state: str) -> str:
        """Where to send the shop's owner (§7.1). ``state`` (≤ 1024 characters) comes back on
        the callback unchanged: make it a signed value naming the partner."""
        if not state or len(state) > 1024:
            raise ProviderConfigError("OAuth state must be 1-1024 characters", code="bad_state")
        query = urlencode({"client_id": self.client_id, "response_type": "code", "state": state})
        return f"{self.oauth_base_url}{consts.OAUTH_AUTHORIZE_PATH}?{query}"

    def _basic(self) -> str:
        raw = f"{self.client_id}:{self._client_secret}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def exchange_code(self, code: str) -> OAuthToken:
        """Trade the callback's ``code`` (valid 5 minutes, single use) for a token.

        Raises RequestRefused ``oauth_refused`` (used, expired or foreign code: start again),
        ProviderUnavailable, ProviderResponseError."""
        response = self._send(
            "POST",
            self.oauth_base_url + consts.OAUTH_TOKEN_PATH,
            headers={"Authorization": self._basic(), "Accept": "application/json"},
            data={"grant_type": "authorization_code", "code": code},
        )
        answer = _oauth_answer(response, "token")
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise ProviderResponseError("The token answer has no access_token", code="bad_response")
        return OAuthToken(access_token=token, expires_at=self._expiry(answer.get("expires_in")))

    def revoke(self, token: str) -> None:
        """Revoke a shop's token (§7.3). Raises as ``exchange_code``."""
        response = self._send(
            "POST",
            self.oauth_base_url + consts.OAUTH_REVOKE_PATH,
            headers={"Authorization": self._basic(), "Accept": "application/json"},
            data={"token": token},
        )
        _oauth_answer(response, "revoke_token")

    def _expiry(self, raw: object) -> datetime | None:
        # ``expires_in`` may come as a string or a number of seconds (§7.2).
        try:
            seconds = int(str(raw))
        except ValueError:
            return None
        return self._clock() + timedelta(seconds=seconds) if seconds > 0 else None


def _oauth_answer(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code != 200:
        fields = error_fields(response)
        error = str(fields.get("error") or "http_error")[:64]
        raise RequestRefused(
            f"YooKassa's OAuth server refused {what} (HTTP {response.status_code}: {error})",
            code="oauth_refused",
            status=response.status_code,
            description=str(fields.get("error_description") or "")[:200] or None,
        )
    return decode_answer(response, what)
