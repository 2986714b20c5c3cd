"""The deal tab as the core sees it (``crm_connectors.app.CardFrame``): the frame POST proven
against the stored portal (placement.py, spec §5.4) and our short-lived frame token
(frame_token.py) that the tab's page sends with each call to the widget API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crm_connectors.app import CardFrame, FrameInstallation, FrameOpening, FrameTokenClaims
from crm_connectors.bitrix24.client import Bitrix24Client, endpoint_host, member_id_of
from crm_connectors.bitrix24.forms import form_fields
from crm_connectors.bitrix24.frame_token import DEFAULT_TTL, issue_frame_token, verify_frame_token
from crm_connectors.bitrix24.placement import (
    KnownInstallation,
    PlacementVerdict,
    current_user_id,
    prove_auth_id,
    verify_placement,
)
from crm_connectors.errors import CrmError, WidgetTokenError


def account_of(query: Mapping[str, Any], form: Mapping[str, Any] | bytes) -> str:
    try:
        return member_id_of(form_fields(form).get("member_id"))
    except ValueError:
        raise WidgetTokenError("malformed", "no usable member_id") from None


def _client_endpoint(base_url: str) -> str:
    """The stored ``https://<portal>`` (or its ``…/rest/`` endpoint) → ``https://<portal>/rest/``,
    or ValueError for anything else."""
    text = base_url.strip() if isinstance(base_url, str) else ""
    if not text.endswith("/rest/"):
        text = text.rstrip("/") + "/rest/"
    return f"https://{endpoint_host(text)}/rest/"


def _client_of(connector: Any) -> Bitrix24Client:
    client = getattr(connector, "client", None)
    if not isinstance(client, Bitrix24Client):
        raise TypeError("a Bitrix24 connector is needed to prove a frame POST")
    return client


def open_frame(
    query: Mapping[str, Any],
    form: Mapping[str, Any] | bytes,
    installation: FrameInstallation,
    connector: Any,
) -> FrameOpening:
    """§5.4 steps 1–3: the stored installation, its application token, a deal placement with a
    deal id, and ``app.info`` with the frame's ``AUTH_ID`` on the **stored** portal."""
    known = KnownInstallation(
        member_id=installation.account_id,
        client_endpoint=_client_endpoint(installation.base_url),
        application_token=installation.application_token,
        active=installation.active,
    )
    verdict = verify_placement(query, form, lambda mid: known if mid == known.member_id else None)
    client = _client_of(connector)
    prove_auth_id(client, verdict)
    try:
        user_id = current_user_id(client, verdict)
    except CrmError:
        user_id = None  # who pressed is for the audit trail only; the proof is app.info's
    return FrameOpening(
        account_id=verdict.member_id,
        deal_id=verdict.deal_id,
        user_id=user_id,
        language=verdict.language,
        frame_origin=origin_of(installation),
    )


def origin_of(installation: FrameInstallation) -> str:
    """The stored portal's origin (never the posted ``DOMAIN``)."""
    return f"https://{endpoint_host(_client_endpoint(installation.base_url))}"


def issue_token(opening: FrameOpening, secret: str, audience: str) -> str:
    verdict = PlacementVerdict(
        member_id=opening.account_id,
        client_endpoint="",
        placement="",
        deal_id=opening.deal_id,
        auth_id="",
    )
    return issue_frame_token(verdict, secret=secret, audience=audience, user_id=opening.user_id)


def verify_token(token: str, secret: str, audience: str, deal_id: int | None) -> FrameTokenClaims:
    claims = verify_frame_token(token, secret=secret, audience=audience, deal_id=deal_id)
    return FrameTokenClaims(
        account_id=claims.member_id,
        deal_id=claims.deal_id,
        user_id=claims.user_id,
        exp=claims.exp,
        jti=claims.jti,
    )


FRAME = CardFrame(
    title="Битрикс24",
    account_of=account_of,
    open=open_frame,
    issue_token=issue_token,
    verify_token=verify_token,
    origin_of=origin_of,
    token_ttl=DEFAULT_TTL,
)
