"""Bearer-token auth for the network API, with role checks for writes.

A partner user (franchise_platform/scoping.py) cannot create tokens: the panel's token page is for
owners and admins only. Should a partner user hold one all the same (made by an operator, say), it
is confined like the panel: only the reads named in `CONFINED_READS` answer, each confining its rows
to the user's partner; every other operation is 403, so an operation added later stays closed to
franchisees until it is confined.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.security import HttpBearer

from franchise_platform.api_errors import ApiError

from .models import Role
from .selectors import user_for_api_token

# (method, route under /api/v1/) of the operations that confine their answers to a partner.
CONFINED_READS = frozenset(
    {
        ("GET", "me"),
        ("GET", "partners"),
        ("GET", "partners/<partner_id>"),
        ("GET", "locations"),
        ("GET", "locations/<location_id>"),
        ("GET", "deals/<crm_deal_id>"),
        ("GET", "payments"),
        ("GET", "royalties/statements"),
        ("GET", "royalties/statements/<statement_id>"),
    }
)
API_PREFIX = "api/v1/"


def _route(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    route = str(getattr(match, "route", "") or "")
    return route.removeprefix(API_PREFIX)


class NetworkTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_api_token(raw=token)
        if user is None:
            return None
        if user.role == Role.PARTNER and (request.method, _route(request)) not in CONFINED_READS:
            raise ApiError(
                403, _("Эта операция доступна только сотрудникам сети."), "forbidden_for_partner"
            )
        request.user = user
        return user


def require_editor(request: HttpRequest) -> None:
    """Owners and admins may write; viewers and partner users read only (403)."""
    user = request.auth  # type: ignore[attr-defined]
    if not getattr(user, "can_edit", False):
        raise ApiError(403, _("Ваша роль позволяет только просматривать данные."), "forbidden")


def require_not_suspended(request: HttpRequest) -> None:
    tenant = getattr(request, "tenant", None)
    if tenant is not None and getattr(tenant, "is_suspended", False):
        raise ApiError(
            403, _("Работа сети приостановлена: изменения недоступны."), "network_suspended"
        )
