"""A CRM's calls to the platform host, routed by the CRM's slug: the OAuth Redirect URI,
webhooks and events, the disconnect hook, and installs the CRM posts (Bitrix24's). amoCRM's
addresses are these routes with ``crm=amocrm``."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from crm_connectors.app import CrmApp
from crm_connectors.registry import crm_app
from franchise_platform.request_context import client_ip

from .connect import ConnectError, disconnect, oauth_callback_next
from .install_page import frame_language, install_page
from .installs import InstallRefused, crm_install_receive, marketplace_install_receive
from .webhooks import crm_event_receive, webhook_receive

View = Callable[..., HttpResponse]


def _unknown_crm() -> JsonResponse:
    return JsonResponse({"detail": "Unknown CRM.", "code": "unknown_crm"}, status=404)


def crm_route(view: View) -> View:
    """Resolve the URL's CRM slug to its declaration (passed as ``app``); an unknown one is 404
    JSON before the view runs."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, crm: str, **kwargs: Any) -> HttpResponse:
        try:
            app = crm_app(crm)
        except LookupError:
            return _unknown_crm()
        return view(request, *args, app=app, **kwargs)

    return wrapper


@never_cache
@require_GET
@crm_route
def oauth_callback(request: HttpRequest, *, app: CrmApp) -> HttpResponse:
    code = request.GET.get("code", "")
    state = request.GET.get("state", "")
    # amoCRM names the account's host `referer`, Bitrix24 `domain` (spec §2.1).
    referer = request.GET.get("referer", "") or request.GET.get("domain", "")
    if not code or not referer:
        return render(
            request,
            "integrations/oauth_result.html",
            {"ok": False, "message": "Нет кода авторизации."},
            status=400,
        )
    if not state:
        if app.install is not None:
            return JsonResponse({"detail": "Нет параметра state.", "code": "bad_state"}, status=400)
        # The marketplace's from_widget call: amoCRM waits 3 s and never retries, so answer now.
        try:
            marketplace_install_receive(
                code=code, referer=referer, client_address=client_ip(request)
            )
        except InstallRefused as exc:
            return JsonResponse({"detail": exc.detail, "code": exc.code}, status=exc.status)
        return JsonResponse({"status": "accepted"})
    try:
        # Only the network's panel can see who is signed in there: the connect finishes on its
        # host, for the person (and browser) the state was issued to.
        return redirect(oauth_callback_next(code=code, state=state, referer=referer, crm=app.slug))
    except ConnectError as exc:
        return render(
            request,
            "integrations/oauth_result.html",
            {"ok": False, "message": exc.detail},
            status=400,
        )


@csrf_exempt
@require_POST
@crm_route
def webhook(request: HttpRequest, secret: str, *, app: CrmApp) -> HttpResponse:
    if app.events is not None:
        outcome = crm_event_receive(crm=app.slug, body=request.body, secret=secret)
        return JsonResponse(outcome.body, status=outcome.status)
    queued = webhook_receive(secret=secret, form={k: request.POST.getlist(k) for k in request.POST})
    if queued < 0:
        return JsonResponse({"detail": "Unknown webhook.", "code": "unknown_webhook"}, status=404)
    return JsonResponse({"queued": queued})


@csrf_exempt
@require_POST
@crm_route
def events(request: HttpRequest, *, app: CrmApp) -> HttpResponse:
    """Events found by their account id alone (no secret in the URL), verified the same way."""
    if app.events is None:
        return _unknown_crm()
    outcome = crm_event_receive(crm=app.slug, body=request.body)
    return JsonResponse(outcome.body, status=outcome.status)


@require_GET
@crm_route
def disconnect_hook(request: HttpRequest, *, app: CrmApp) -> HttpResponse:
    ok = disconnect(
        client_uuid=request.GET.get("client_uuid", ""),
        account_id=request.GET.get("account_id", ""),
        signature=request.GET.get("signature", ""),
        crm=app.slug,
    )
    if not ok:
        return JsonResponse({"detail": "Bad signature.", "code": "bad_signature"}, status=403)
    return JsonResponse({"status": "revoked"})


@never_cache
@csrf_exempt
@require_POST
@crm_route
def install(request: HttpRequest, *, app: CrmApp) -> HttpResponse:
    """An install the CRM posts (Bitrix24 §1.2: ONAPPINSTALL, or the installer frame with the
    portal in the query). The callback is answered 200 ``{"status":"success"}`` once stored; the
    frame with a page: the claim code for a portal no network has claimed (install_page.py)."""
    if app.install is None:
        return _unknown_crm()
    query = {k: request.GET.get(k, "") for k in request.GET}
    # The installer frame (the portal in the query) is a page an administrator sees; the
    # ONAPPINSTALL callback is the portal's server, answered in JSON.
    frame = bool(query.get("DOMAIN"))
    try:
        binding = crm_install_receive(
            crm=app.slug, query=query, body=request.body, client_address=client_ip(request)
        )
    except InstallRefused as exc:
        if frame:
            return install_page(
                request,
                binding=None,
                refused=exc.detail,
                status=exc.status,
                language=frame_language(query),
            )
        return JsonResponse({"detail": exc.detail, "code": exc.code}, status=exc.status)
    if frame:
        return install_page(request, binding=binding, language=frame_language(query))
    return JsonResponse({"status": "success"})
