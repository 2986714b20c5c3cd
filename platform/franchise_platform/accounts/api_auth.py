"""Bearer-token auth for the network API, with role checks for writes."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.security import HttpBearer

from franchise_platform.api_errors import ApiError

from .selectors import user_for_api_token


class NetworkTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_api_token(raw=token)
        if user is None:
            return None
        request.user = user
        return user


def require_editor(request: HttpRequest) -> None:
    """Owners and admins may write; viewers read only (403)."""
    user = request.auth  # type: ignore[attr-defined]
    if not getattr(user, "can_edit", False):
        raise ApiError(403, _("Ваша роль позволяет только просматривать данные."), "forbidden")


def require_not_suspended(request: HttpRequest) -> None:
    tenant = getattr(request, "tenant", None)
    if tenant is not None and getattr(tenant, "is_suspended", False):
        raise ApiError(
            403, _("Работа сети приостановлена: изменения недоступны."), "network_suspended"
        )
