"""The widget's API on the platform host (CONTRACT.md "Widget API").

Every call carries amoCRM's disposable JWT in X-Auth-Token: checked for signature, audience, time
claims and a single-use jti (kept in Redis until it expires), then the account must be bound to a
network. The work then runs inside that network's schema.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context, tenant_context
from ninja import Schema
from ninja.security import APIKeyHeader

from crm_connectors.app import CardClaims
from crm_connectors.errors import (
    CrmAccessRevoked,
    CrmAuthError,
    CrmError,
    CrmNotFound,
    CrmRateLimited,
    WidgetTokenError,
)
from crm_connectors.registry import CARD_FRAMES, crm_app
from franchise_platform.api_errors import ApiError, document_common_errors, install_error_handlers
from franchise_platform.db import schema_to_public
from franchise_platform.flows.button import deal_links_ensure
from franchise_platform.inputs import OptionalPrepaymentAmountIn
from franchise_platform.payments.delivery import DeliverySource, deal_deliver
from franchise_platform.payments.errors import LinkRefused
from franchise_platform.payments.models import Deal
from franchise_platform.payments.selectors import deal_by_crm_id, deal_links_view
from tenants.claims import claim_code_issue
from tenants.errors import ClaimRefused
from tenants.models import CrmAccountBinding, Network

from .connectors import _redis, app_setting
from .frame_auth import (
    FrameAwareNinjaAPI,
    FrameTokenAuth,
    frame_crm_error,
    frame_crm_revoked,
    frame_crm_title,
)
from .models import ConnectionStatus, CrmConnection
from .refresh import lead_facts_read

logger = logging.getLogger(__name__)

# This API answers the amoCRM widget (CONTRACT.md "Widget API"): its card token is amoCRM's.
WIDGET_CRM = "amocrm"


@dataclass(frozen=True)
class WidgetCaller:
    claims: CardClaims
    network: Network
    crm: str = "amocrm"  # the binding's CRM: lead ids are per CRM (the demo's is the dummy)


def _jti_first_use(jti: str, ttl: int) -> bool:
    return bool(_redis().set(f"widget-jti:{jti}", 1, nx=True, ex=max(ttl, 1)))


class WidgetTokenAuth(APIKeyHeader):
    param_name = "X-Auth-Token"

    def claims(self, key: str | None) -> CardClaims:
        app = crm_app(WIDGET_CRM)
        try:
            return app.verify_card_token(
                key or "",
                secret=app_setting(app, "CLIENT_SECRET"),
                audiences=app.allowed_origins(settings.PLATFORM_BASE_URL),
                jti_guard=_jti_first_use,
                client_id=app_setting(app, "CLIENT_ID"),
                max_lifetime=app_setting(app, "WIDGET_TOKEN_MAX_LIFETIME"),
            )
        except WidgetTokenError as exc:
            raise ApiError(
                401,
                _("Не удалось подтвердить вход из amoCRM. Обновите страницу сделки."),
                f"token_{exc.code}",
            ) from exc

    def authenticate(self, request: HttpRequest, key: str | None) -> WidgetCaller:
        claims = self.claims(key)
        with schema_context("public"):
            # Account ids are strings per CRM: a Bitrix24 portal may carry the same one as an
            # amoCRM account. A CRM whose card is a frame never proves itself with this token.
            binding = (
                CrmAccountBinding.objects.select_related("network")
                .filter(account_id=claims.account_id)
                .exclude(crm__in=list(CARD_FRAMES))
                .first()
            )
        if (
            binding is None
            or binding.state != CrmAccountBinding.State.BOUND
            or binding.network is None
        ):
            raise ApiError(
                401,
                _(
                    "Аккаунт amoCRM не подключён ни к одной сети. Подключите сеть, чтобы формировать ссылки."
                ),
                "account_not_bound",
            )
        if binding.network.is_suspended:
            raise ApiError(
                403,
                _("Работа сети временно приостановлена. Обратитесь к владельцу сети."),
                "network_suspended",
            )
        return WidgetCaller(claims=claims, network=binding.network, crm=binding.crm)


# A call from a CRM card that is an iframe (Bitrix24's deal tab) carries our frame token instead
# (crm_sync/frame_auth.py); without that header amoCRM's token is checked.
widget_api = FrameAwareNinjaAPI(
    title="Franchise payments — amoCRM widget API",
    version="1",
    urls_namespace="widget_api",
    auth=[FrameTokenAuth(), WidgetTokenAuth()],
    docs_url=None,
)
install_error_handlers(widget_api)


class GenerateIn(Schema):
    # A manager types it: "1000", "1000.50" or "1000,50"; NaN, Infinity, 1e999999, a third decimal
    # place or 9 integer digits answer 422 invalid_prepayment (franchise_platform/inputs.py).
    prepayment_amount: OptionalPrepaymentAmountIn = None


def _crm_error(exc: CrmError, crm: str = WIDGET_CRM) -> ApiError:
    title = frame_crm_title(crm)
    if title is not None:
        return frame_crm_error(exc, title)
    if isinstance(exc, CrmNotFound):
        return ApiError(404, _("Сделка не найдена в amoCRM."), "lead_not_found")
    if isinstance(exc, CrmRateLimited):
        return ApiError(
            429,
            _("amoCRM просит подождать. Нажмите ещё раз через несколько секунд."),
            "crm_rate_limited",
        )
    if isinstance(exc, CrmAccessRevoked | CrmAuthError):
        return ApiError(
            409,
            _("Доступ к amoCRM отозван: владельцу сети нужно переподключить интеграцию."),
            "crm_revoked",
        )
    return ApiError(
        424, _("amoCRM сейчас не отвечает. Попробуйте ещё раз через минуту."), "crm_unavailable"
    )


def _connection(caller: WidgetCaller) -> CrmConnection:
    # The calling account's own connection only: lead ids are per account (and account ids per
    # CRM), so reading another account's lead (a network that once held another one, or another
    # CRM's account with the same id string) would answer about someone else's deal.
    crm = CrmConnection.objects.filter(
        status=ConnectionStatus.CONNECTED, crm=caller.crm, account_id=str(caller.claims.account_id)
    ).first()
    if crm is None:
        title = frame_crm_title(caller.crm)
        if title is not None:
            raise frame_crm_revoked(title)
        raise ApiError(
            409,
            _("Доступ к amoCRM отозван: владельцу сети нужно переподключить интеграцию."),
            "crm_revoked",
        )
    return crm


@widget_api.post("/leads/{lead_id}/links")
def links_generate(
    request: HttpRequest, lead_id: int, payload: GenerateIn | None = None
) -> dict[str, Any]:
    caller: WidgetCaller = request.auth  # type: ignore[attr-defined]
    prepayment = payload.prepayment_amount if payload else None
    try:
        with tenant_context(caller.network):
            try:
                facts = lead_facts_read(crm=_connection(caller), lead_id=lead_id)
            except CrmError as exc:
                raise _crm_error(exc, caller.crm) from exc
            try:
                deal = deal_links_ensure(facts=facts, prepayment_amount=prepayment)
            except LinkRefused as exc:
                raise ApiError(exc.status, exc.detail, exc.code) from exc
            return deal_links_view(deal=deal, network=caller.network)
    finally:
        schema_to_public()


@widget_api.get("/leads/{lead_id}/links")
def links_show(request: HttpRequest, lead_id: int) -> dict[str, Any]:
    caller: WidgetCaller = request.auth  # type: ignore[attr-defined]
    try:
        with tenant_context(caller.network):
            deal = deal_by_crm_id(crm_deal_id=lead_id, crm=caller.crm)
            if deal is None:
                raise ApiError(
                    404, _("Ссылки для этой сделки ещё не сформированы."), "links_not_generated"
                )
            return deal_links_view(deal=deal, network=caller.network)
    finally:
        schema_to_public()


@widget_api.post("/leads/{lead_id}/delivered")
def lead_delivered(request: HttpRequest, lead_id: int) -> dict[str, Any]:
    """«Услуга оказана» in the lead card: the deal's service was delivered; its settlement
    receipts follow. Idempotent: a second press changes nothing. Answers the links body."""
    caller: WidgetCaller = request.auth  # type: ignore[attr-defined]
    try:
        with tenant_context(caller.network):
            deal = deal_by_crm_id(crm_deal_id=lead_id, crm=caller.crm)
            if deal is None:
                raise ApiError(
                    404, _("Ссылки для этой сделки ещё не сформированы."), "links_not_generated"
                )
            deal, _created = deal_deliver(
                deal_id=deal.pk,
                source=DeliverySource.WIDGET,
                actor=f"{caller.crm} user {caller.claims.user_id}",
            )
            return deal_links_view(deal=deal, network=caller.network)
    finally:
        schema_to_public()


class WidgetAccountAuth(WidgetTokenAuth):
    """The token alone, without a bound network: for the one call an unclaimed account makes."""

    def authenticate(self, request: HttpRequest, key: str | None) -> CardClaims:  # type: ignore[override]
        return self.claims(key)


class ClaimCodeOut(Schema):
    code: str
    expires_at: datetime
    account_id: int


@widget_api.post("/claim-code", auth=WidgetAccountAuth(), response=ClaimCodeOut)
def claim_code(request: HttpRequest) -> dict[str, Any]:
    """The single-use code that binds this (unbound) account to a network: the owner types it into
    the panel or signs up with it (tenants/claims.py). 409 for a bound account or an install that
    has not arrived yet."""
    claims: CardClaims = request.auth  # type: ignore[attr-defined]
    try:
        # Administrators of the account only (403 not_account_admin): tenants/claims.py.
        issued = claim_code_issue(
            account_id=claims.account_id, user_id=claims.user_id, is_admin=claims.is_admin
        )
    except ClaimRefused as exc:
        raise ApiError(exc.status, exc.detail, exc.code) from exc
    return {"code": issued.code, "expires_at": issued.expires_at, "account_id": claims.account_id}


if settings.PERF_FLOOR_ENDPOINTS:

    @widget_api.get("/floor/{lead_id}")
    def links_floor(request: HttpRequest, lead_id: int) -> dict[str, Any]:
        """Benchmark floor: token check, binding, tenant switch, one read (see floor.py)."""
        caller: WidgetCaller = request.auth  # type: ignore[attr-defined]
        try:
            with tenant_context(caller.network):
                return {"exists": Deal.objects.filter(crm_deal_id=lead_id).exists()}
        finally:
            schema_to_public()


# Last, once every operation exists; 424: amoCRM does not answer.
document_common_errors(widget_api, extra=(424,))
