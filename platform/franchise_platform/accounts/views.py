"""Login (password, then a TOTP code when the person turned it on), logout, password reset, the
page shown while password guessing is slowed down, and the second-factor setup page."""

from __future__ import annotations

import time
from typing import Any

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login

from franchise_platform.panel.access import actor, page, panel_view
from franchise_platform.request_context import client_ip

from . import services
from .forms import CodeForm, LoginForm
from .login_throttle import login_throttle_forget, wait_text
from .mail_limits import mail_request_refusal
from .models import User
from .selectors import totp_device_get
from .totp import totp_qr_svg, totp_secret

PENDING_KEY = "panel_login_pending"
# The password step is worth this long; after it the code step starts over from the password.
PENDING_SECONDS = 300
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


class PanelLoginView(auth_views.LoginView):
    template_name = "panel/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form: LoginForm) -> HttpResponse:  # type: ignore[override]
        user = form.get_user()
        if totp_device_get(user=user) is None:
            return super().form_valid(form)
        # Password right, second factor pending: nobody is logged in until the code is checked.
        self.request.session[PENDING_KEY] = {
            "uid": user.pk,
            "at": int(time.time()),
            "next": self.get_success_url(),
        }
        return redirect("panel:login_code")

    def form_invalid(self, form: LoginForm) -> HttpResponse:  # type: ignore[override]
        if form.retry_after:
            return lockout_response(self.request, retry_after=form.retry_after)
        return super().form_invalid(form)


@sensitive_post_parameters()
@csrf_protect
@never_cache
def login_code(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(PENDING_KEY)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return redirect("panel:login")
    user = User.objects.filter(pk=pending["uid"], is_active=True).first()
    device = totp_device_get(user=user) if user else None
    if user is None or device is None:
        request.session.pop(PENDING_KEY, None)
        return redirect("panel:login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.totp_verify(device=device, code=form.cleaned_data["code"]):
            del request.session[PENDING_KEY]
            user.otp_device = device  # type: ignore[attr-defined]  # django-otp marks the session verified
            auth_login(request, user, backend=MODEL_BACKEND)
            target = pending.get("next") or ""
            if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
                target = reverse("panel:home")
            return redirect(target)
        form.add_error(
            "code", _("Код не подошёл. Проверьте время на телефоне и введите новый код.")
        )
    return render(request, "panel/login_code.html", {"form": form, "email": user.email})


def lockout_response(request: HttpRequest, *, retry_after: int) -> HttpResponse:
    """429 with a page in Russian: how long to wait, and the way out through the mailbox."""
    context = {"network": getattr(request, "tenant", None), "wait": wait_text(retry_after)}
    response = render(request, "panel/lockout.html", context, status=429)
    response["Retry-After"] = str(retry_after)
    return response


class PanelLogoutView(auth_views.LogoutView):
    next_page = "panel:login"


class PanelPasswordResetView(auth_views.PasswordResetView):
    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("panel:password_reset_done")

    def form_valid(self, form: Any) -> HttpResponse:
        # Counted for every e-mail typed, known or not, and answered alike: no mailbox bombing,
        # and nothing learnt about which addresses have an account.
        refusal = mail_request_refusal(
            recipient=form.cleaned_data["email"], ip=client_ip(self.request)
        )
        if refusal is not None:
            form.add_error(None, refusal)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        self.extra_email_context = {"network_name": getattr(self.request.tenant, "name", "")}  # type: ignore[attr-defined]
        return super().form_valid(form)


class PanelPasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    success_url = reverse_lazy("panel:password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        # Whoever holds the mailbox could set a password anyway; keeping them waiting after they
        # proved it only delays the owner.
        login_throttle_forget(username=form.user.get_username())
        return response


@panel_view(personal=True)  # viewers protect their own account too
def security(request: HttpRequest) -> HttpResponse:
    """Turn the authenticator-app second factor on (scan, confirm with a code) or off (a code)."""
    user: User = request.user  # type: ignore[assignment]
    confirmed = totp_device_get(user=user)
    form = CodeForm(request.POST or None)
    if request.method == "POST":
        step = request.POST.get("step")
        if step == "start" and confirmed is None:
            services.totp_device_start(user=user)
            return redirect("panel:security")
        device = confirmed or totp_device_get(user=user, confirmed=False)
        if device is not None and form.is_valid():
            code = form.cleaned_data["code"]
            if confirmed is None and services.totp_device_confirm(
                device=device, code=code, **actor(request)
            ):
                otp_login(request, device)  # this session already proved the code
                messages.success(
                    request,
                    _("Вход по коду включён. Теперь при входе понадобится код из приложения."),
                )
                return redirect("panel:security")
            if confirmed is not None and services.totp_disable(
                user=user, device=device, code=code, **actor(request)
            ):
                messages.success(request, _("Вход по коду выключен."))
                return redirect("panel:security")
            form.add_error("code", _("Код не подошёл. Введите новый код из приложения."))
    pending = None if confirmed else totp_device_get(user=user, confirmed=False)
    context: dict[str, Any] = {"form": form, "confirmed": confirmed, "pending": pending}
    if pending is not None:
        issuer = getattr(request, "tenant", None)
        context["qr_svg"] = totp_qr_svg(pending, issuer=str(getattr(issuer, "name", "Panel")))
        context["secret"] = totp_secret(pending)
    return page(request, "panel/security.html", context)
