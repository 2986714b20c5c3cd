"""Who may open the operator console: an active staff member of the public schema whose session
passed the second factor (django-otp). Anything less goes to the console's login."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse
from django.views.decorators.cache import never_cache

from franchise_platform.request_context import client_ip

View = Callable[..., HttpResponseBase]


def is_operator(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def operator_view(view: View) -> View:
    @never_cache
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not is_operator(request) or not request.user.is_verified():  # type: ignore[union-attr]
            if request.user.is_authenticated:
                logout(request)
            return redirect_to_login(request.get_full_path(), login_url=reverse("operator:login"))
        return view(request, *args, **kwargs)

    return wrapped


def operator_actor(request: HttpRequest) -> dict[str, Any]:
    return {
        "actor": f"{request.user.get_username()} (operator)",
        "ip_address": client_ip(request),
    }
