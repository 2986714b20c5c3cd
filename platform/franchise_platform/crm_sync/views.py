"""amoCRM's calls to the platform host: the OAuth Redirect URI, webhooks, the disconnect hook."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from franchise_platform.request_context import client_ip

from .connect import ConnectError, disconnect, oauth_callback_next
from .installs import InstallRefused, marketplace_install_receive
from .webhooks import webhook_receive


@never_cache
@require_GET
def oauth_callback(request: HttpRequest) -> HttpResponse:
    code = request.GET.get("code", "")
    state = request.GET.get("state", "")
    referer = request.GET.get("referer", "")
    if not code or not referer:
        return render(
            request,
            "integrations/oauth_result.html",
            {"ok": False, "message": "Нет кода авторизации."},
            status=400,
        )
    if not state:
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
        return redirect(oauth_callback_next(code=code, state=state, referer=referer))
    except ConnectError as exc:
        return render(
            request,
            "integrations/oauth_result.html",
            {"ok": False, "message": exc.detail},
            status=400,
        )


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, secret: str) -> HttpResponse:
    queued = webhook_receive(secret=secret, form={k: request.POST.getlist(k) for k in request.POST})
    if queued < 0:
        return JsonResponse({"detail": "Unknown webhook.", "code": "unknown_webhook"}, status=404)
    return JsonResponse({"queued": queued})


@require_GET
def disconnect_hook(request: HttpRequest) -> HttpResponse:
    ok = disconnect(
        client_uuid=request.GET.get("client_uuid", ""),
        account_id=request.GET.get("account_id", ""),
        signature=request.GET.get("signature", ""),
    )
    if not ok:
        return JsonResponse({"detail": "Bad signature.", "code": "bad_signature"}, status=403)
    return JsonResponse({"status": "revoked"})
