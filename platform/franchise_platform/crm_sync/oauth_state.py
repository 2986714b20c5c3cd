"""The OAuth `state`: signed, single-use, 30 minutes, and bound to the person who asked for it and,
from the panel, to their browser.

A state only naming a network would let anyone holding one (the network's owner, say) send the
authorize URL to the admin of some other amoCRM account: that admin's click would bind their
account, and its OAuth grant, to the sender's network. So the state also names the user who asked,
and a panel-issued one carries the hash of a nonce kept in that person's session. The callback on
the platform host cannot see the network host's session, so it only routes the browser to the
network's panel, where the same person must be signed in, in the same browser, to finish.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.core.cache import cache
from django_tenants.utils import schema_context

from .errors import ConnectError

STATE_SALT = "amocrm-oauth-state"
STATE_MAX_AGE = 30 * 60
SESSION_KEY = "amocrm_oauth_nonces"
# Connect attempts one session may have in flight (several tabs, a retry).
SESSION_NONCES_KEPT = 5


@dataclass(frozen=True)
class OAuthState:
    network_slug: str
    key: str  # single use
    user_uid: str
    browser_hash: str  # "" for a state issued through the API (no browser session to bind)
    replace: bool


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def browser_nonce_new(session: Any) -> str:
    """A fresh nonce remembered in `session` (a Django session); the state carries its hash."""
    nonce = secrets.token_urlsafe(24)
    kept = [h for h in session.get(SESSION_KEY, []) if isinstance(h, str)]
    session[SESSION_KEY] = [*kept, _hash(nonce)][-SESSION_NONCES_KEPT:]
    return nonce


def browser_nonce_spend(session: Any, browser_hash: str) -> bool:
    """True (once) when `session` holds the nonce the state was issued with."""
    kept = [h for h in session.get(SESSION_KEY, []) if isinstance(h, str)]
    found = any(hmac.compare_digest(h, browser_hash) for h in kept)
    if found:
        session[SESSION_KEY] = [h for h in kept if h != browser_hash]
    return found


def state_issue(*, network_slug: str, user_uid: str, nonce: str | None, replace: bool) -> str:
    return signing.dumps(
        {
            "n": network_slug,
            "x": secrets.token_urlsafe(12),
            "u": user_uid,
            "b": _hash(nonce) if nonce else "",
            "r": bool(replace),
        },
        salt=STATE_SALT,
    )


def state_read(state: str) -> OAuthState:
    """The state's contents; raises ConnectError if forged or expired (not spent here)."""
    try:
        data = signing.loads(state, salt=STATE_SALT, max_age=STATE_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise ConnectError(
            "Ссылка подключения устарела: начните подключение заново.", "state_expired"
        ) from exc
    except signing.BadSignature as exc:
        raise ConnectError("Неверный параметр state.", "bad_state") from exc
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str) and data.get(k) for k in ("n", "x", "u")
    ):
        # A state of the old shape named no person: it cannot be finished safely.
        raise ConnectError(
            "Ссылка подключения устарела: начните подключение заново.", "state_expired"
        )
    return OAuthState(
        network_slug=data["n"],
        key=data["x"],
        user_uid=data["u"],
        browser_hash=str(data.get("b") or ""),
        replace=data.get("r") is True,
    )


def state_spend(parsed: OAuthState) -> None:
    """Use the state up; raises ConnectError the second time."""
    with schema_context("public"):
        if not cache.add(f"amocrm-state:{parsed.key}", 1, STATE_MAX_AGE + 60):
            raise ConnectError("Эта ссылка подключения уже использована.", "state_used")
