"""Who may open a panel page and who may change anything through it.

Every panel view is wrapped by `panel_view`: anonymous people go to the login page, viewers may only
read (edit pages and every POST answer 403), a suspended network refuses every POST, and an id that
does not exist in this network's schema (another network's id included) renders the panel's 404.

A partner user (a franchisee's own account, franchise_platform/scoping.py) may open only the views
marked `scoped=True`, which confine what they show to its partner (another partner's id is then the
same 404); every other page answers it 403, so a page added later stays closed to franchisees until
it is confined.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from franchise_platform.accounts.models import User
from franchise_platform.accounts.selectors import totp_device_get
from franchise_platform.network.models import Partner
from franchise_platform.request_context import client_ip
from franchise_platform.scoping import scope_partner_id

from .selectors import crm_access_revoked, outbox_dead_exists

View = Callable[..., HttpResponse]


def network_is_suspended(request: HttpRequest) -> bool:
    return bool(getattr(getattr(request, "tenant", None), "is_suspended", False))


def can_edit(request: HttpRequest) -> bool:
    """The one switch templates use to show or hide edit controls."""
    user = request.user
    return bool(
        user.is_authenticated
        and getattr(user, "can_edit", False)
        and not network_is_suspended(request)
    )


def actor(request: HttpRequest) -> dict[str, Any]:
    """The audit identity of the person behind a request, as services take it."""
    user: User = request.user  # type: ignore[assignment]
    return {"actor": user.email, "ip_address": client_ip(request)}


def page(
    request: HttpRequest, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HttpResponse:
    """Render a panel page with what the layout needs on every page."""
    scope = scope_partner_id(request.user)
    base = {
        "network": getattr(request, "tenant", None),
        "suspended": network_is_suspended(request),
        "can_edit": can_edit(request),
        # A partner user's window: its partner, and no banners about the network's CRM.
        "confined": scope is not None,
        "scope_partner": Partner.objects.filter(pk=scope).first() if scope else None,
        "crm_revoked": scope is None and crm_access_revoked(),
        "crm_dead": scope is None and outbox_dead_exists(),
    }
    return render(request, template, {**base, **(context or {})}, status=status)


def forbidden(request: HttpRequest, reason: str) -> HttpResponse:
    return page(request, "panel/forbidden.html", {"reason": reason}, status=403)


def not_found(request: HttpRequest) -> HttpResponse:
    return page(request, "panel/not_found.html", status=404)


def panel_view(
    *, edit: bool = False, personal: bool = False, scoped: bool = False, scoped_write: bool = False
) -> Callable[[View], View]:
    """`edit=True`: the page itself changes data (forms), so only editors may even open it.
    `personal=True`: the page changes only the signed-in person's own account (the second factor),
    so every role may use it, in a suspended network too: protecting oneself is never refused.
    `scoped=True`: the view confines its rows to a partner user's partner, so such a user may open
    it; `scoped_write=True`: such a user may also POST to it (its own shop's check)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            # A session that skipped the second factor (it can only come from outside the login
            # flow) is not trusted once the person has turned the second factor on.
            if not user.is_verified() and totp_device_get(user=user) is not None:  # type: ignore[attr-defined]
                logout(request)
                return redirect_to_login(request.get_full_path())
            confined = scope_partner_id(user) is not None
            if confined and not (personal or scoped or scoped_write):
                return forbidden(request, _("Этот раздел доступен только сотрудникам сети."))
            writing = not personal and (edit or request.method not in ("GET", "HEAD", "OPTIONS"))
            may_write = getattr(user, "can_edit", False) or (confined and scoped_write)
            if writing and not may_write:
                return forbidden(request, _("Ваша роль позволяет только просматривать данные."))
            if writing and network_is_suspended(request):
                return forbidden(request, _("Сеть приостановлена: изменения недоступны."))
            try:
                return view(request, *args, **kwargs)
            except ObjectDoesNotExist:
                return not_found(request)

        return wrapped

    return decorate
