"""Our own short-lived token for the deal tab's XHRs (spec §5.4 step 4).

The tab's page is opened by a verified frame POST (``placement.verify_placement`` and
``prove_auth_id``); cookies are unreliable in a cross-site iframe, so the page gets this token
and sends it with each call to the widget API. HS256 with a platform secret, bound to the portal
and the deal, 15 minutes; a token meant for another audience or deal is refused. It is not single
use: the page makes several calls (read the deal, generate links) with one.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import jwt

from crm_connectors.bitrix24.client import member_id_of
from crm_connectors.bitrix24.placement import PlacementVerdict
from crm_connectors.errors import WidgetTokenError

ISSUER = "franchise-platform/bitrix24"
DEFAULT_TTL = 900
_MAX_TOKEN_LENGTH = 4096


@dataclass(frozen=True)
class FrameClaims:
    member_id: str
    deal_id: int
    user_id: int | None
    exp: int
    jti: str


def issue_frame_token(
    verdict: PlacementVerdict,
    *,
    secret: str,
    audience: str,
    user_id: int | None = None,
    ttl: int = DEFAULT_TTL,
    now: float | None = None,
) -> str:
    if len(secret) < 32:
        raise ValueError("the frame token secret must be at least 32 characters")
    moment = int(time.time() if now is None else now)
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": audience,
        "sub": verdict.member_id,
        "deal_id": verdict.deal_id,
        "iat": moment,
        "exp": moment + ttl,
        "jti": secrets.token_hex(12),
    }
    if user_id is not None:
        claims["user_id"] = user_id
    return jwt.encode(claims, secret, algorithm="HS256")


def _int_claim(claims: dict[str, object], name: str) -> int:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise WidgetTokenError("bad_claim", f"claim {name} must be an integer")
    return value


def verify_frame_token(
    token: str,
    *,
    secret: str,
    audience: str,
    deal_id: int | None = None,
    leeway: int = 5,
    max_lifetime: int = DEFAULT_TTL,
    now: float | None = None,
) -> FrameClaims:
    """The claims, or ``WidgetTokenError`` with code malformed, bad_signature, wrong_audience,
    bad_claim, expired, too_long_lived or wrong_deal."""
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_LENGTH:
        raise WidgetTokenError("malformed", "no usable token")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=audience,
            issuer=ISSUER,
            options={"verify_exp": False, "verify_iat": False, "require": ["exp", "iat", "sub"]},
        )
    except jwt.InvalidSignatureError:
        raise WidgetTokenError("bad_signature", "signature does not match") from None
    except jwt.InvalidAudienceError:
        raise WidgetTokenError("wrong_audience", "token is meant for another service") from None
    except jwt.PyJWTError:
        raise WidgetTokenError("malformed", "token cannot be decoded") from None
    exp, iat, deal = (_int_claim(claims, k) for k in ("exp", "iat", "deal_id"))
    user = claims.get("user_id")
    moment = time.time() if now is None else now
    if moment >= exp + leeway:
        raise WidgetTokenError("expired", "token expired")
    if exp - iat > max_lifetime:
        raise WidgetTokenError("too_long_lived", "token lifetime is too long")
    if deal_id is not None and deal != deal_id:
        raise WidgetTokenError("wrong_deal", "token was issued for another deal")
    try:
        member_id = member_id_of(claims.get("sub"))
    except ValueError:
        raise WidgetTokenError("bad_claim", "sub must be a member_id") from None
    return FrameClaims(
        member_id=member_id,
        deal_id=deal,
        user_id=user if isinstance(user, int) and not isinstance(user, bool) else None,
        exp=exp,
        jti=str(claims.get("jti") or ""),
    )
