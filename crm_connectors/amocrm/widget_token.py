"""The widget's disposable token (``X-Auth-Token``, spec §5): HS256 JWT signed with the
integration's client secret, 30 minutes, one per call. We verify it strictly and make each
``jti`` usable once."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt

from crm_connectors.amocrm.consts import WIDGET_ISSUER_SUFFIXES
from crm_connectors.errors import WidgetTokenError

__all__ = ["WidgetClaims", "WidgetTokenError", "allowed_audiences", "verify_widget_token"]

_MAX_TOKEN_LENGTH = 8192
# amoCRM issues disposable tokens for 30 minutes (spec §5: exp - iat = 1800). One that claims a
# longer life was not made by amoCRM's usual path: a leaked secret could mint one that never dies.
DEFAULT_MAX_LIFETIME = 1800
_REQUIRED_CLAIMS = (
    "iss",
    "aud",
    "jti",
    "iat",
    "exp",
    "account_id",
    "user_id",
    "client_uuid",
    "subdomain",
)


@dataclass(frozen=True)
class WidgetClaims:
    account_id: int
    user_id: int
    client_uuid: str
    subdomain: str
    jti: str
    exp: int
    iss: str
    is_admin: bool | None = None


def allowed_audiences(base_url: str) -> list[str]:
    """Origins accepted as ``aud`` for ``PLATFORM_BASE_URL``: with the port and without it
    (amoCRM builds ``aud`` from the Redirect URI's scheme and host; CONTRACT accepts both)."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("base_url must be an http(s) URL")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    bare = f"{parts.scheme}://{host}"
    return [f"{bare}:{parts.port}", bare] if parts.port is not None else [bare]


def _int_claim(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise WidgetTokenError("bad_claim", f"claim {name} must be an integer")
    return value


def _str_claim(claims: Mapping[str, Any], name: str, max_length: int = 255) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise WidgetTokenError("bad_claim", f"claim {name} must be a short non-empty string")
    return value


def _decode(token: str, secret: str, audiences: Sequence[str]) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise WidgetTokenError("malformed", "not a JWT") from None
    if header.get("alg") != "HS256":
        raise WidgetTokenError("bad_algorithm", "only HS256 tokens are accepted")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=list(audiences),
            # Times are checked below against an injectable clock with our own leeway.
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "require": ["aud"],
            },
        )
    except jwt.InvalidSignatureError:
        raise WidgetTokenError("bad_signature", "signature does not match") from None
    except jwt.InvalidAudienceError:
        raise WidgetTokenError("wrong_audience", "token is meant for another service") from None
    except jwt.MissingRequiredClaimError:
        raise WidgetTokenError("missing_claim", "claim aud is missing") from None
    except jwt.InvalidAlgorithmError:
        raise WidgetTokenError("bad_algorithm", "only HS256 tokens are accepted") from None
    except jwt.PyJWTError:
        raise WidgetTokenError("malformed", "token cannot be decoded") from None
    return claims


def verify_widget_token(
    token: str,
    *,
    secret: str,
    audiences: Sequence[str],
    jti_guard: Callable[[str, int], bool],
    leeway: int = 5,
    now: float | None = None,
    client_id: str | None = None,
    check_issuer: bool = True,
    issuer_suffixes: Sequence[str] = WIDGET_ISSUER_SUFFIXES,
    max_lifetime: int | None = DEFAULT_MAX_LIFETIME,
) -> WidgetClaims:
    """Return the token's claims or raise ``WidgetTokenError(code=...)``.

    Codes: malformed, bad_algorithm, bad_signature, wrong_audience, missing_claim, bad_claim,
    expired, not_yet_valid, too_long_lived, wrong_client, bad_issuer, replayed. ``client_id``
    (our integration id) must equal ``client_uuid`` when given; ``exp - iat`` may not exceed
    ``max_lifetime`` seconds (None: unbounded). ``jti_guard(jti, ttl)`` must
    return True only the first time it sees ``jti`` (Redis ``SET NX EX ttl``); it is called
    last, so a refused token never burns a jti.
    """
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_LENGTH:
        raise WidgetTokenError("malformed", "no usable token")
    claims = _decode(token, secret, audiences)
    for name in _REQUIRED_CLAIMS:
        if name not in claims:
            raise WidgetTokenError("missing_claim", f"claim {name} is missing")

    moment = time.time() if now is None else now
    exp = _int_claim(claims, "exp")
    iat = _int_claim(claims, "iat")
    if moment >= exp + leeway:
        raise WidgetTokenError("expired", "token expired")
    if "nbf" in claims and _int_claim(claims, "nbf") > moment + leeway:
        raise WidgetTokenError("not_yet_valid", "token is not valid yet")
    if iat > moment + leeway:
        raise WidgetTokenError("not_yet_valid", "token issued in the future")
    if exp <= iat:
        raise WidgetTokenError("bad_claim", "token expires before it was issued")
    if max_lifetime is not None and exp - iat > max_lifetime:
        raise WidgetTokenError("too_long_lived", "token lifetime exceeds what amoCRM issues")

    client_uuid = _str_claim(claims, "client_uuid")
    if client_id is not None and client_uuid != client_id:
        raise WidgetTokenError("wrong_client", "token was issued for another integration")
    subdomain = _str_claim(claims, "subdomain", 63).lower()
    iss = _str_claim(claims, "iss")
    if check_issuer:
        issuer = urlsplit(iss)
        expected_hosts = {f"{subdomain}{suffix}" for suffix in issuer_suffixes}
        if issuer.scheme != "https" or (issuer.hostname or "") not in expected_hosts:
            raise WidgetTokenError("bad_issuer", "issuer is not the account's amoCRM host")
    jti = _str_claim(claims, "jti", 200)
    is_admin = claims.get("is_admin")
    result = WidgetClaims(
        account_id=_int_claim(claims, "account_id"),
        user_id=_int_claim(claims, "user_id"),
        client_uuid=client_uuid,
        subdomain=subdomain,
        jti=jti,
        exp=exp,
        iss=iss,
        is_admin=is_admin if isinstance(is_admin, bool) else None,
    )
    ttl = max(1, int(exp + leeway - moment) + 1)
    if not jti_guard(jti, ttl):
        raise WidgetTokenError("replayed", "token was already used")
    return result
