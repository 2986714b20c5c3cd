"""The widget API called from a CRM card that is an iframe opened by a browser POST (a CRM with a
``CardFrame`` in crm_connectors/registry.py).

The card's page (crm_sync/placement.py) was opened by a frame POST proven against the CRM and
got our short-lived frame token, ``<crm slug>:<the CRM's token>``. Each call sends it in the frame
header; the token is
checked (signature, audience, expiry, the deal in the path), used **once** (its ``jti`` kept in
Redis until it expires: a replayed token answers 401 ``token_replayed``), and every answer after a
good check carries the next token in the same header, so the page keeps calling with a fresh one.
Without the header this class steps aside and amoCRM's ``X-Auth-Token`` check runs.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context, tenant_context
from ninja import NinjaAPI
from ninja.security import APIKeyHeader

from crm_connectors.app import CardFrame, FrameInstallation, FrameOpening
from crm_connectors.errors import (
    CrmAccessRevoked,
    CrmAuthError,
    CrmError,
    CrmNotFound,
    CrmRateLimited,
    WidgetTokenError,
)
from crm_connectors.registry import card_frame
from franchise_platform.api_errors import ApiError
from franchise_platform.db import schema_to_public
from tenants.models import CrmAccountBinding, Network

from .connectors import _redis
from .models import ConnectionStatus, CrmConnection

if TYPE_CHECKING:
    from .widget_api import WidgetCaller

logger = logging.getLogger(__name__)

_NEXT_TOKEN_ATTR = "fpl_next_frame_token"


def frame_token_secret() -> str:
    """CRM_FRAME_TOKEN_SECRET, or one derived from SECRET_KEY (never the key itself)."""
    configured = str(getattr(settings, "CRM_FRAME_TOKEN_SECRET", "") or "")
    if configured:
        return configured
    return hmac.new(
        settings.SECRET_KEY.encode(), b"crm-card-frame-token", hashlib.sha256
    ).hexdigest()


def frame_audience() -> str:
    parts = urlsplit(settings.PLATFORM_BASE_URL)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class FrameTarget:
    network: Network
    connection: CrmConnection
    installation: FrameInstallation


def frame_target_find(*, crm: str, account_id: str) -> FrameTarget | None:
    """The bound network and connected CRM connection of ``account_id`` (compared as strings),
    or None. Leaves the public schema current."""
    try:
        with schema_context("public"):
            binding = (
                CrmAccountBinding.objects.select_related("network")
                .filter(crm=crm, account_id=account_id)
                .first()
            )
            # Sealed on the binding at install (crm_sync/installs.py), opened here, in the
            # public schema; empty for a CRM whose installs carry none.
            application_token = str(getattr(binding, "application_token", "") or "")
    except (ValueError, TypeError):  # an id the column cannot hold names no account
        return None
    if binding is None or binding.state != CrmAccountBinding.State.BOUND or binding.network is None:
        return None
    network = binding.network
    try:
        with tenant_context(network):
            connection = CrmConnection.objects.filter(
                crm=crm, account_id=account_id, status=ConnectionStatus.CONNECTED
            ).first()
    except (ValueError, TypeError):
        connection = None
    finally:
        schema_to_public()
    if connection is None:
        return None
    return FrameTarget(
        network=network,
        connection=connection,
        installation=FrameInstallation(
            account_id=str(connection.account_id),
            base_url=connection.base_url,
            application_token=application_token,
        ),
    )


def frame_crm_title(crm: str) -> str | None:
    """The name managers know a CRM with a card frame by (its messages name it); None for the
    others (the widget API's amoCRM wording applies)."""
    try:
        return card_frame(crm).title
    except LookupError:
        return None


def frame_crm_error(exc: CrmError, title: str) -> ApiError:
    """``widget_api._crm_error`` in the words of a frame CRM."""
    crm = {"crm": title}
    if isinstance(exc, CrmNotFound):
        return ApiError(404, _("Сделка не найдена в %(crm)s.") % crm, "lead_not_found")
    if isinstance(exc, CrmRateLimited):
        return ApiError(
            429,
            _("%(crm)s просит подождать. Нажмите ещё раз через несколько секунд.") % crm,
            "crm_rate_limited",
        )
    if isinstance(exc, CrmAccessRevoked | CrmAuthError):
        return frame_crm_revoked(title)
    return ApiError(
        424,
        _("%(crm)s сейчас не отвечает. Попробуйте ещё раз через минуту.") % crm,
        "crm_unavailable",
    )


def frame_crm_revoked(title: str) -> ApiError:
    return ApiError(
        409,
        _("Доступ к %(crm)s отозван: владельцу сети нужно переподключить интеграцию.")
        % {"crm": title},
        "crm_revoked",
    )


def frame_token_issue(crm: str, frame: CardFrame, opening: FrameOpening) -> str:
    """The token the frame's page sends: the CRM's slug, then the CRM's own token."""
    return f"{crm}:{frame.issue_token(opening, frame_token_secret(), frame_audience())}"


def _frame_of(key: str) -> tuple[str, CardFrame, str]:
    crm, _sep, token = key.partition(":")
    try:
        return crm, card_frame(crm), token
    except LookupError:
        raise WidgetTokenError("malformed", "the token names no CRM with a card frame") from None


@dataclass(frozen=True)
class FrameCardClaims:
    """``crm_connectors.app.CardClaims`` for a frame caller."""

    account_id: Any  # the CRM's id as a string (a portal's member_id)
    user_id: int
    subdomain: str = ""
    is_admin: bool | None = None


def _refused(code: str, title: str) -> ApiError:
    return ApiError(
        401,
        _("Не удалось подтвердить вход из %(crm)s. Откройте вкладку сделки заново.")
        % {"crm": title},
        f"token_{code}",
    )


def _path_deal_id(request: HttpRequest) -> int | None:
    match = getattr(request, "resolver_match", None)
    value = match.kwargs.get("lead_id") if match is not None else None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class FrameTokenAuth(APIKeyHeader):
    param_name = "X-Frame-Token"

    def __call__(self, request: HttpRequest) -> Any:
        # Absent header: not ours; the next auth (amoCRM's) decides.
        if self.param_name not in request.headers:
            return None
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> WidgetCaller:
        # local: widget_api imports this module to build its API (a cycle at import time)
        from .widget_api import WidgetCaller

        try:
            crm, frame, token = _frame_of(key or "")
        except WidgetTokenError as exc:
            raise _refused(exc.code, "CRM") from exc
        try:
            claims = frame.verify_token(
                token, frame_token_secret(), frame_audience(), _path_deal_id(request)
            )
        except WidgetTokenError as exc:
            raise _refused(exc.code, frame.title) from exc
        if not claims.jti or not _redis().set(
            f"frame-jti:{crm}:{claims.jti}", 1, nx=True, ex=max(frame.token_ttl, 1)
        ):
            raise _refused("replayed", frame.title)
        target = frame_target_find(crm=crm, account_id=claims.account_id)
        if target is None:
            raise ApiError(
                401,
                _("Аккаунт %(crm)s не подключён ни к одной сети.") % {"crm": frame.title},
                "account_not_bound",
            )
        if target.network.is_suspended:
            raise ApiError(
                403,
                _("Работа сети временно приостановлена. Обратитесь к владельцу сети."),
                "network_suspended",
            )
        opening = FrameOpening(
            account_id=claims.account_id,
            deal_id=claims.deal_id,
            user_id=claims.user_id,
            language="",
            frame_origin="",
        )
        setattr(request, _NEXT_TOKEN_ATTR, frame_token_issue(crm, frame, opening))
        return WidgetCaller(
            claims=FrameCardClaims(account_id=claims.account_id, user_id=claims.user_id or 0),
            network=target.network,
            crm=crm,
        )


class FrameAwareNinjaAPI(NinjaAPI):
    """Adds the next frame token to every answer of a call that passed the frame check (errors
    included: a 422 must not leave the page without a token)."""

    def create_response(
        self,
        request: HttpRequest,
        data: Any,
        *,
        status: int | None = None,
        temporal_response: HttpResponse | None = None,
    ) -> HttpResponse:
        response = super().create_response(
            request, data, status=status, temporal_response=temporal_response
        )
        token = getattr(request, _NEXT_TOKEN_ATTR, None)
        if token:
            response[FrameTokenAuth.param_name] = token
            response["Cache-Control"] = "no-store"
        return response
