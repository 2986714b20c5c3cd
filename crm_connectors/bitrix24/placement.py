"""The deal-card tab (``CRM_DEAL_DETAIL_TAB``, spec §1.3, §5): how the iframe proves who calls.

The frame is loaded by a POST the user's **browser** submits, so every field is untrusted.
``verify_placement`` is the pure part of §5.4: the posted ``member_id`` must be a known, active
installation, ``APPLICATION_TOKEN`` must equal the stored one (constant time), the placement must
be a deal placement we serve and ``PLACEMENT_OPTIONS.ID`` a deal id. The posted ``DOMAIN`` is never
used for routing: the verdict carries the **stored** endpoint. ``prove_auth_id`` is the one network
step: ``app.info`` called with the frame's ``AUTH_ID`` on the stored portal, which only a live
token of that portal passes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crm_connectors.bitrix24.client import Bitrix24Client, member_id_of
from crm_connectors.bitrix24.consts import PLACEMENT_DEAL_TAB, TOKEN_RE
from crm_connectors.bitrix24.forms import form_fields
from crm_connectors.bitrix24.oauth import same_application_token
from crm_connectors.bitrix24.webhooks import deal_id_of
from crm_connectors.errors import CrmAuthError, CrmError, WidgetTokenError


@dataclass(frozen=True)
class KnownInstallation:
    """What the core stored for a portal, as the verification needs it."""

    member_id: str
    client_endpoint: str
    application_token: str = field(repr=False)
    active: bool = True


@dataclass(frozen=True)
class PlacementVerdict:
    """A verified frame POST: which portal (stored endpoint), which deal, which user token."""

    member_id: str
    client_endpoint: str
    placement: str
    deal_id: int
    auth_id: str = field(repr=False)
    language: str = ""


def placement_options(raw: str | None) -> dict[str, Any]:
    """§1.3: a JSON string; anything but an object (``"undefined"``, junk) is ``{}``."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # junk, or nested deep enough to exhaust the stack
        return {}
    return value if isinstance(value, dict) else {}


def verify_placement(
    query: Mapping[str, Any],
    form: Mapping[str, Any] | bytes | str,
    lookup: Callable[[str], KnownInstallation | None],
    *,
    placements: frozenset[str] = frozenset({PLACEMENT_DEAL_TAB}),
    require_application_token: bool = True,
) -> PlacementVerdict:
    """Check a frame POST against the stored installation; raise ``WidgetTokenError(code)``.

    Codes: malformed, unknown_portal, inactive_portal, missing_application_token,
    bad_application_token, wrong_placement, no_deal, no_auth. ``require_application_token=False``
    tolerates portals that do not post it yet (§1.3 UNCERTAIN); ``prove_auth_id`` then carries
    the whole proof.
    """
    body = form_fields(form)
    language = form_fields(query).get("LANG", "")[:5]
    try:
        member_id = member_id_of(body.get("member_id"))
    except ValueError:
        raise WidgetTokenError("malformed", "no usable member_id") from None
    installation = lookup(member_id)
    if installation is None:
        raise WidgetTokenError("unknown_portal", "no installation for this portal")
    if not installation.active:
        raise WidgetTokenError("inactive_portal", "the app is not installed on this portal")
    posted_token = body.get("APPLICATION_TOKEN", "")
    if posted_token or require_application_token:
        if not posted_token:
            raise WidgetTokenError("missing_application_token", "APPLICATION_TOKEN is missing")
        if not same_application_token(posted_token, installation.application_token):
            raise WidgetTokenError("bad_application_token", "APPLICATION_TOKEN does not match")
    placement = body.get("PLACEMENT", "").strip().upper()
    if placement not in placements:
        raise WidgetTokenError("wrong_placement", "this placement is not served here")
    deal_id = deal_id_of(placement_options(body.get("PLACEMENT_OPTIONS")).get("ID", ""))
    if deal_id is None:
        raise WidgetTokenError("no_deal", "PLACEMENT_OPTIONS names no deal")
    auth_id = body.get("AUTH_ID", "")
    if not TOKEN_RE.fullmatch(auth_id):
        raise WidgetTokenError("no_auth", "AUTH_ID is missing")
    return PlacementVerdict(
        member_id=member_id,
        client_endpoint=installation.client_endpoint,
        placement=placement,
        deal_id=deal_id,
        auth_id=auth_id,
        language=language,
    )


@dataclass(frozen=True)
class AppInfo:
    code: str
    version: int | None
    status: str
    installed: bool


def prove_auth_id(client: Bitrix24Client, verdict: PlacementVerdict) -> AppInfo:
    """§5.4 step 3: ``app.info`` with the frame's token on the **stored** portal (the client
    is bound to it). A forged or expired ``AUTH_ID`` → ``WidgetTokenError("bad_auth")``; an app
    not fully installed → ``WidgetTokenError("not_installed")``; the portal unreachable or over
    its limit → the ``CrmError`` (answer 503, not 401)."""
    if client.portal.member_id != verdict.member_id:
        raise ValueError("the client is bound to another portal")
    try:
        answer = client.call("app.info", {}, access_token=verdict.auth_id)
    except CrmAuthError:
        raise WidgetTokenError("bad_auth", "the portal refused AUTH_ID") from None
    except CrmError as exc:
        if exc.permanent:
            raise WidgetTokenError("bad_auth", "the portal refused AUTH_ID") from None
        raise
    result = answer.result if isinstance(answer.result, dict) else {}
    version = result.get("VERSION")
    info = AppInfo(
        code=str(result.get("CODE") or ""),
        version=version if isinstance(version, int) and not isinstance(version, bool) else None,
        status=str(result.get("STATUS") or ""),
        installed=result.get("INSTALLED") is True,
    )
    if not info.installed:
        raise WidgetTokenError("not_installed", "the app is not fully installed")
    return info


def current_user_id(client: Bitrix24Client, verdict: PlacementVerdict) -> int | None:
    """The frame's user (``user.current`` with ``AUTH_ID``, scope ``user_brief``); None when the
    portal does not say. Raises like ``prove_auth_id``."""
    if client.portal.member_id != verdict.member_id:
        raise ValueError("the client is bound to another portal")
    try:
        answer = client.call("user.current", {}, access_token=verdict.auth_id)
    except CrmAuthError:
        raise WidgetTokenError("bad_auth", "the portal refused AUTH_ID") from None
    result = answer.result if isinstance(answer.result, dict) else {}
    return deal_id_of(result.get("ID"))
