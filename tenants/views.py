"""The platform host's pages for people: the landing, the sign-up form with its live address check,
and the honeypot's pretend success. A successful sign-up ends on the new network's own host, logged
in through a single-use link (tenants/login_link.py)."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from franchise_platform.inputs import db_id_parse
from franchise_platform.rate_limits import budget_spend
from franchise_platform.request_context import client_ip_bucket

from .abuse import client_ip
from .crm_choice import crm_choices, crm_installs_itself
from .errors import NetworkError
from .forms import SignupForm
from .login_link import login_link_path
from .signup import network_signup
from .slugs import SlugState, slug_check

_SUGGEST_RE = re.compile(r"[^a-z0-9-]+")


def network_origin(request: HttpRequest, slug: str) -> str:
    """A network's origin as seen from this request: its host on the port the person used. The
    port comes from the Host header (what the browser typed), not SERVER_PORT, which behind a
    proxy is the app server's own port."""
    _host, colon, port = request.get_host().rpartition(":")
    suffix = f":{port}" if colon and port.isdigit() else ""
    return f"{request.scheme}://{slug}.{settings.PLATFORM_DOMAIN}{suffix}"


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "public/landing.html", {"domain": settings.PLATFORM_DOMAIN})


def _initial(request: HttpRequest) -> dict[str, Any]:
    """Pre-filled from the amoCRM widget's link (?amocrm_account=&subdomain=&claim=) or the
    Bitrix24 app's page (?crm=bitrix24&subdomain=&claim=)."""
    subdomain = request.GET.get("subdomain", "").strip().lower()[:40]
    slug = _SUGGEST_RE.sub("-", subdomain).strip("-")
    initial: dict[str, Any] = {}
    if slug:
        initial["slug"] = slug
        initial["network_name"] = subdomain.replace("-", " ").title()
    # ASCII digits within a bigint only: "²".isdigit() is true and int("²") raises.
    account = db_id_parse(request.GET.get("amocrm_account"))
    if account is not None:
        initial["amocrm_account"] = account
    if request.GET.get("claim"):
        initial["claim_code"] = request.GET["claim"][:12]
    crm = request.GET.get("crm", "")
    # Only a known CRM is pre-selected; anything else leaves the default (the form checks again).
    if crm in {slug for slug, _title in crm_choices()}:
        initial["crm"] = crm
    return initial


@sensitive_post_parameters("owner_password")
@never_cache
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        form = SignupForm(initial=_initial(request))
        return _signup_page(request, form)
    form = SignupForm(request.POST)
    if form.is_bot:
        # Pretend it worked: a bot that learns nothing keeps trying the same trick elsewhere.
        return render(request, "public/signup_received.html")
    if not form.is_valid():
        return _signup_page(request, form, status=422)
    data = form.cleaned_data
    try:
        result = network_signup(
            name=data["network_name"],
            slug=data["slug"],
            owner_email=data["owner_email"],
            owner_password=data["owner_password"],
            claim_code=data.get("claim_code") or "",
            crm=data.get("crm"),
            amocrm_account_id=data.get("amocrm_account"),
            client_ip=client_ip(request),
            base_url=network_origin(request, data["slug"]),
        )
    except NetworkError as exc:
        form.show_error(exc)
        return _signup_page(request, form, status=exc.status)
    network = result.created.network
    return HttpResponseRedirect(
        network_origin(request, network.slug) + login_link_path(network=network, user=result.owner)
    )


def _signup_page(request: HttpRequest, form: SignupForm, *, status: int = 200) -> HttpResponse:
    from_crm = bool(form["amocrm_account"].value() or form["claim_code"].value())
    # A code from a CRM that posts its installs (a portal app) or from amoCRM's widget.
    from_installed = from_crm and crm_installs_itself(form["crm"].value())
    context = {
        "form": form,
        "domain": settings.PLATFORM_DOMAIN,
        "from_amocrm": from_crm and not from_installed,
        "from_installed_crm": from_installed,
    }
    return render(request, "public/signup.html", context, status=status)


@require_GET
def check_slug(request: HttpRequest) -> HttpResponse:
    """The live check beside the address field (htmx): free, taken or invalid, with the reason.
    Per client address and minute, so that nobody lists the networks by asking for every name."""
    if not budget_spend(
        key=f"slug-check:{client_ip_bucket(client_ip(request))}",
        limit=int(settings.SLUG_CHECKS_PER_ADDRESS_PER_MINUTE),
        window_seconds=60,
    ):
        context = {"throttled": True, "domain": settings.PLATFORM_DOMAIN}
        return render(request, "public/_slug_check.html", context, status=429)
    raw = request.GET.get("slug", "")
    result = slug_check(raw) if raw.strip() else None
    context = {
        "check": result,
        "free": result is not None and result.state == SlugState.FREE,
        "domain": settings.PLATFORM_DOMAIN,
    }
    return render(request, "public/_slug_check.html", context)
