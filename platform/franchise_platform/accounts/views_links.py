"""Pages reached from a link rather than a form: the one-time login after sign-up and the e-mail
verification link, plus the panel's «send the verification e-mail again» button."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from franchise_platform.request_context import client_ip
from tenants.login_link import login_link_user

from .mail_limits import mail_request_refusal
from .models import User
from .selectors import totp_device_get
from .verification import email_verification_send, email_verify

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _base_url(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


@never_cache
def login_link(request: HttpRequest, token: str) -> HttpResponse:
    """/panel/login/link/<token>/: log the new owner in once and open the panel."""
    user = login_link_user(token=token, network=request.tenant)  # type: ignore[attr-defined]
    # A person who turned the second factor on always passes through the code step.
    if user is None or totp_device_get(user=user) is not None:
        return render(request, "public/login_link_invalid.html", status=400)
    if request.user.is_authenticated and request.user.pk != user.pk:
        logout(request)
    auth_login(request, user, backend=MODEL_BACKEND)
    return redirect("panel:home")


@never_cache
def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    user = email_verify(token=token)
    context = {"verified": user is not None, "email": user.email if user else ""}
    return render(request, "public/verify_email.html", context, status=200 if user else 400)


@require_POST
def verify_email_resend(request: HttpRequest) -> HttpResponse:
    """Any signed-in person may ask for their own link again, even in a read-only network."""
    if not request.user.is_authenticated:
        return redirect("panel:login")
    user = request.user
    assert isinstance(user, User)
    if user.email_verified_at is None:
        refusal = mail_request_refusal(recipient=user.email, ip=client_ip(request))
        if refusal is not None:
            messages.error(request, refusal)
            return redirect("panel:home")
        tenant = getattr(request, "tenant", None)
        sent = email_verification_send(
            user=user, base_url=_base_url(request), network_name=getattr(tenant, "name", "")
        )
        if sent:
            messages.success(
                request,
                _("Письмо со ссылкой отправлено на %(email)s.") % {"email": user.email},
            )
        else:
            messages.error(request, _("Письмо не ушло. Попробуйте через несколько минут."))
    return redirect("panel:home")
