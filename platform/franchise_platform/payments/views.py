"""Public pages of a network host: /pay/<token> and the provider's callback addresses."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    RawPostDataException,
)
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from billing_providers import registry
from billing_providers.errors import ProviderError
from franchise_platform.request_context import client_ip

from .buyer_contact import BuyerContactForm, deal_contact_store
from .callbacks import callback_receive
from .invoicing import PayDecision, invoice_for_link
from .models import PaymentLink
from .returns import invoice_for_buyer_return, invoice_for_checked_return, return_state


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def pay(request: HttpRequest, token: str) -> HttpResponse:
    """The link: off to the provider's page, or first the buyer's contact for the receipt when
    the provider needs one (POST answers that question, then the link is followed again)."""
    tenant = getattr(request, "tenant", None)
    if tenant is not None and tenant.is_suspended:
        return render(request, "pay/unavailable.html", {"network": tenant}, status=503)
    try:
        decision = invoice_for_link(token=token)
    except PaymentLink.DoesNotExist:
        raise Http404 from None
    except ProviderError:
        return render(request, "pay/unavailable.html", {"network": tenant}, status=503)
    if decision.redirect_to:
        return HttpResponseRedirect(decision.redirect_to)
    if decision.reason == "contact_needed":
        return _contact_page(request, decision, token)
    if request.method == "POST":
        response = HttpResponseRedirect(request.path)
        response.status_code = 303
        return response
    return render(
        request,
        "pay/not_payable.html",
        {
            "link": decision.link,
            "deal": decision.link.deal,
            "reason": decision.reason,
            "remaining_link": decision.remaining_link,
            "network": tenant,
        },
    )


def _contact_page(request: HttpRequest, decision: PayDecision, token: str) -> HttpResponse:
    form = BuyerContactForm(
        request.POST if request.method == "POST" else None, kinds=decision.contact_kinds
    )
    if request.method == "POST" and form.is_valid():
        deal_contact_store(
            deal_id=decision.link.deal_id,
            email=str(form.cleaned_data.get("email") or ""),
            phone=str(form.cleaned_data.get("phone") or ""),
        )
        # On to the link again by a refresh: a redirect chain after a form would be checked
        # against the form-action policy all the way to the provider's page.
        return render(
            request,
            "pay/continue.html",
            {
                "url": request.path,
                "heading": _("Переходим к оплате"),
                "network": getattr(request, "tenant", None),
            },
        )
    return render(
        request,
        "pay/contact.html",
        {
            "form": form,
            "link": decision.link,
            "deal": decision.link.deal,
            "refused": decision.contact_refused,
            "network": getattr(request, "tenant", None),
        },
        status=400 if form.is_bound else 200,
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def robokassa_result(request: HttpRequest, partner_id: str) -> HttpResponse:
    raw = request.POST if request.method == "POST" else request.GET
    answer = callback_receive(partner_id=str(partner_id), raw={k: raw.getlist(k) for k in raw})
    return HttpResponse(
        answer.body, status=answer.status, content_type=f"{answer.content_type}; charset=utf-8"
    )


def _known_provider(provider: str) -> None:
    if provider not in registry.PROVIDERS:
        raise Http404


@csrf_exempt
@require_http_methods(["GET", "POST"])
def provider_notification(request: HttpRequest, provider: str, partner_id: str) -> HttpResponse:
    """/callbacks/<provider>/<partner id>/notification/: any registered provider's notification
    (the provider reads its fields, its JSON body or its sender's address)."""
    _known_provider(provider)
    try:
        body = request.body
    except RawPostDataException:
        body = b""  # a multipart form already parsed upstream: its fields are all there is
    raw = request.POST if request.method == "POST" else request.GET
    answer = callback_receive(
        partner_id=str(partner_id),
        raw={k: raw.getlist(k) for k in raw},
        provider_slug=provider,
        body=body,
        remote_addr=client_ip(request),
    )
    return HttpResponse(
        answer.body, status=answer.status, content_type=f"{answer.content_type}; charset=utf-8"
    )


@never_cache
@csrf_exempt
@require_http_methods(["GET", "POST"])
def provider_success(request: HttpRequest, provider: str, partner_id: str) -> HttpResponse:
    _known_provider(provider)
    return _buyer_page(request, partner_id, "pay/success.html", provider_slug=provider)


@never_cache
@require_http_methods(["GET", "HEAD"])
def provider_return_status(request: HttpRequest, provider: str, partner_id: str) -> HttpResponse:
    """/callbacks/<provider>/<partner id>/return-status/?invoice=&check=: what the return page
    polls. Only the invoice our return address proves; read from our records, nothing else."""
    _known_provider(provider)
    invoice = invoice_for_checked_return(
        partner_id=str(partner_id),
        params={key: request.GET.get(key, "") for key in ("invoice", "check")},
        provider_slug=provider,
    )
    if invoice is None:
        return JsonResponse(
            {"detail": "Unknown payment return.", "code": "unknown_return"}, status=404
        )
    return JsonResponse(return_state(invoice))


@never_cache
@csrf_exempt
@require_http_methods(["GET", "POST"])
def provider_fail(request: HttpRequest, provider: str, partner_id: str) -> HttpResponse:
    _known_provider(provider)
    return _buyer_page(request, partner_id, "pay/fail.html")


def _buyer_page(
    request: HttpRequest, partner_id: str, template: str, *, provider_slug: str = ""
) -> HttpResponse:
    """A page for the buyer back from the provider: details only for a return the provider signed
    or our own proven return address (payments/returns.py), otherwise the same neutral page
    whatever the address names. Our own return polls until the payment is recorded."""
    raw = request.POST if request.method == "POST" else request.GET
    params = {key: (raw.getlist(key) or [""])[0] for key in raw}
    state: dict[str, str] | None = None
    poll_url = ""
    if provider_slug and "check" in params:
        invoice = invoice_for_checked_return(
            partner_id=str(partner_id), params=params, provider_slug=provider_slug
        )
        if invoice is not None:
            state = return_state(invoice)
            query = urlencode({"invoice": invoice.pk, "check": params["check"]})
            poll_url = f"/callbacks/{provider_slug}/{partner_id}/return-status/?{query}"
    else:
        invoice = invoice_for_buyer_return(partner_id=str(partner_id), params=params)
    context = {
        "invoice": invoice,
        "partner": invoice.provider_account.partner if invoice else None,
        "network": getattr(request, "tenant", None),
        "state": state,
        "poll_url": poll_url,
    }
    return render(request, "pay/return.html" if state else template, context)


@never_cache
@csrf_exempt
@require_http_methods(["GET", "POST"])
def robokassa_success(request: HttpRequest, partner_id: str) -> HttpResponse:
    return _buyer_page(request, partner_id, "pay/success.html")


@never_cache
@csrf_exempt
@require_http_methods(["GET", "POST"])
def robokassa_fail(request: HttpRequest, partner_id: str) -> HttpResponse:
    return _buyer_page(request, partner_id, "pay/fail.html")
