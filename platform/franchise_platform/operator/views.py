"""The operator console: login with a required second factor (enrolled on first login), the
networks with their figures, and suspend / resume / export / delete."""

from __future__ import annotations

import tempfile
import time
from typing import Any

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from franchise_platform.accounts.forms import CodeForm, LoginForm
from franchise_platform.accounts.models import User
from franchise_platform.accounts.selectors import totp_device_get
from franchise_platform.accounts.services import (
    totp_device_confirm,
    totp_device_start,
    totp_verify,
)
from franchise_platform.accounts.totp import totp_qr_svg, totp_secret
from franchise_platform.request_context import client_ip
from franchise_platform.security.models import AuditEntry
from tenants.errors import NetworkError
from tenants.models import CrmAccountBinding, Network
from tenants.operations import (
    network_delete,
    network_export,
    network_last_export_at,
    network_resume,
    network_suspend,
)

from .access import operator_actor, operator_view
from .forms import DeleteForm, SuspendForm
from .selectors import network_page, network_stats, network_stats_forget, network_totals

PENDING_KEY = "operator_login_pending"
PENDING_SECONDS = 300
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
ISSUER = "Franchise platform operators"


# ---- login: password, then the code (or the authenticator's enrolment on first login) -------


@sensitive_post_parameters()
@csrf_protect
@never_cache
def login(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        user: User = form.get_user()
        if not user.is_staff:
            form.add_error(None, _("У этой учётной записи нет доступа к консоли оператора."))
        else:
            # Password right; nobody is logged in until the second factor is checked.
            request.session[PENDING_KEY] = {
                "uid": user.pk,
                "at": int(time.time()),
                "next": request.POST.get("next", ""),
            }
            if totp_device_get(user=user) is None:
                return redirect("operator:enrol")
            return redirect("operator:login_code")
    context = {"form": form, "next": request.GET.get("next", "")}
    # Too many failures (the form says how long to wait): the same page, answered 429.
    return render(request, "operator/login.html", context, status=429 if form.retry_after else 200)


def _pending_user(request: HttpRequest) -> tuple[User | None, dict[str, Any]]:
    pending = request.session.get(PENDING_KEY) or {}
    if not pending or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None, {}
    user = User.objects.filter(pk=pending["uid"], is_active=True, is_staff=True).first()
    return user, pending


def _finish_login(
    request: HttpRequest, user: User, device: Any, pending: dict[str, Any]
) -> HttpResponse:
    request.session.pop(PENDING_KEY, None)
    user.otp_device = device  # type: ignore[attr-defined]  # django-otp marks the session verified
    auth_login(request, user, backend=MODEL_BACKEND)
    target = pending.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("operator:networks")
    return HttpResponseRedirect(target)


@sensitive_post_parameters()
@csrf_protect
@never_cache
def login_code(request: HttpRequest) -> HttpResponse:
    user, pending = _pending_user(request)
    device = totp_device_get(user=user) if user else None
    if user is None or device is None:
        return redirect("operator:login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if totp_verify(device=device, code=form.cleaned_data["code"]):
            return _finish_login(request, user, device, pending)
        form.add_error(
            "code", _("Код не подошёл. Проверьте время на телефоне и введите новый код.")
        )
    return render(request, "operator/login_code.html", {"form": form, "email": user.email})


@sensitive_post_parameters()
@csrf_protect
@never_cache
def enrol(request: HttpRequest) -> HttpResponse:
    """First login: the second factor is not optional, so it is set up before the console opens."""
    user, pending = _pending_user(request)
    if user is None:
        return redirect("operator:login")
    if totp_device_get(user=user) is not None:
        return redirect("operator:login_code")
    device = totp_device_get(user=user, confirmed=False) or totp_device_start(user=user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if totp_device_confirm(
            device=device,
            code=form.cleaned_data["code"],
            actor=f"{user.email} (operator)",
            ip_address=client_ip(request),
        ):
            return _finish_login(request, user, device, pending)
        form.add_error("code", _("Код не подошёл. Введите новый код из приложения."))
    context = {
        "form": form,
        "email": user.email,
        "qr_svg": totp_qr_svg(device, issuer=ISSUER),
        "secret": totp_secret(device),
    }
    return render(request, "operator/enrol.html", context)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("operator:login")


# ---- the console -----------------------------------------------------------------------------


@operator_view
def networks(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    listing = network_page(query=query, status=status, page=request.GET.get("page"))
    context = {
        "page_obj": listing.page,
        "rows": listing.rows,
        "query": query,
        "status": status,
        "totals": network_totals(),
        "statuses": Network.Status,
    }
    return render(request, "operator/networks.html", context)


def _network(slug: str) -> Network:
    return get_object_or_404(Network.objects.customers(), slug=slug)


@operator_view
def network_detail(request: HttpRequest, slug: str) -> HttpResponse:
    network = _network(slug)
    exported_at = network_last_export_at(network=network)
    context = {
        "network": network,
        "stats": network_stats([network])[network.schema_name],
        "bindings": CrmAccountBinding.objects.filter(network=network).order_by("created_at"),
        "exported_at": exported_at,
        "suspend_form": SuspendForm(),
        "delete_form": DeleteForm(),
        "history": AuditEntry.objects.filter(object_id=str(network.pk)).order_by("-created_at")[
            :20
        ],
    }
    return render(request, "operator/network_detail.html", context)


@require_POST
@operator_view
def network_suspend_view(request: HttpRequest, slug: str) -> HttpResponse:
    network = _network(slug)
    form = SuspendForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    network_suspend(network=network, reason=reason, **operator_actor(request))
    messages.success(request, _("Сеть «%(name)s» приостановлена.") % {"name": network.name})
    return redirect("operator:network", slug=slug)


@require_POST
@operator_view
def network_resume_view(request: HttpRequest, slug: str) -> HttpResponse:
    network = _network(slug)
    network_resume(network=network, **operator_actor(request))
    messages.success(request, _("Сеть «%(name)s» снова работает.") % {"name": network.name})
    return redirect("operator:network", slug=slug)


@require_POST
@operator_view
def network_export_view(request: HttpRequest, slug: str) -> FileResponse:
    network = _network(slug)
    # Spooled: small networks stay in memory, big ones go to a temporary file.
    out = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)  # noqa: SIM115 - FileResponse closes it
    network_export(network=network, out=out, **operator_actor(request))
    out.seek(0)
    filename = f"{network.slug}-{timezone.localdate():%Y-%m-%d}.zip"
    return FileResponse(out, as_attachment=True, filename=filename, content_type="application/zip")


@require_POST
@operator_view
def network_delete_view(request: HttpRequest, slug: str) -> HttpResponse:
    network = _network(slug)
    form = DeleteForm(request.POST)
    confirmation = form.cleaned_data["confirmation"] if form.is_valid() else ""
    try:
        network_delete(network=network, confirmation=confirmation, **operator_actor(request))
    except NetworkError as exc:
        messages.error(request, exc.detail)
        return redirect("operator:network", slug=slug)
    network_stats_forget(network)
    messages.success(request, _("Сеть «%(slug)s» удалена.") % {"slug": slug})
    return redirect("operator:networks")


@operator_view
def audit(request: HttpRequest) -> HttpResponse:
    entries = AuditEntry.objects.order_by("-created_at", "-id")[:200]
    return render(request, "operator/audit.html", {"entries": entries})
