"""Public pages of a network host: /pay/<token> and the provider's callback addresses."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from billing_providers.errors import ProviderError
from franchise_platform.network.models import Partner

from .callbacks import callback_receive
from .invoicing import invoice_for_link
from .models import Invoice, PaymentLink


@never_cache
@require_http_methods(["GET", "HEAD"])
def pay(request: HttpRequest, token: str) -> HttpResponse:
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


@csrf_exempt
@require_http_methods(["GET", "POST"])
def robokassa_result(request: HttpRequest, partner_id: str) -> HttpResponse:
    raw = request.POST if request.method == "POST" else request.GET
    answer = callback_receive(partner_id=str(partner_id), raw={k: raw.getlist(k) for k in raw})
    return HttpResponse(
        answer.body, status=answer.status, content_type=f"{answer.content_type}; charset=utf-8"
    )


def _buyer_page(request: HttpRequest, partner_id: str, template: str) -> HttpResponse:
    params = request.POST if request.method == "POST" else request.GET
    partner = Partner.objects.filter(pk=partner_id).first()
    invoice = None
    inv_id = params.get("InvId", "")
    if partner is not None and inv_id.isdigit():
        invoice = (
            Invoice.objects.filter(pk=int(inv_id), provider_account__partner=partner)
            .select_related("deal")
            .first()
        )
    return render(
        request,
        template,
        {"partner": partner, "invoice": invoice, "network": getattr(request, "tenant", None)},
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def robokassa_success(request: HttpRequest, partner_id: str) -> HttpResponse:
    return _buyer_page(request, partner_id, "pay/success.html")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def robokassa_fail(request: HttpRequest, partner_id: str) -> HttpResponse:
    return _buyer_page(request, partner_id, "pay/fail.html")
