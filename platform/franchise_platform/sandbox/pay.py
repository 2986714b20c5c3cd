"""The dummy provider's payment page (network host, /sandbox/pay/), where the dummy's invoice links
lead, and its callback address. «Оплатить» does what a provider's server does: it posts the signed
notification to the shop's callback URL over HTTP, so the platform verifies, stores and answers it
and the worker applies it, as for a real payment."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from billing_providers.dummy.provider import DummyProvider
from franchise_platform.payments.callbacks import callback_receive
from franchise_platform.payments.models import Invoice
from franchise_platform.payments.providers import account_data, provider_get
from tenants.services import network_base_url

from .demo import WALK_LEAD_ID


def _provider() -> DummyProvider:
    provider = provider_get("dummy")
    assert isinstance(provider, DummyProvider)
    return provider


def _invoice_for(params: dict[str, str]) -> tuple[Invoice, dict[str, str]] | None:
    """The invoice a signed visit names, and the fields to echo; None for anything else."""
    provider = _provider()
    number = provider.callback_invoice_id(params)
    invoice = (
        Invoice.objects.select_related("provider_account__partner", "deal")
        .filter(pk=number, provider="dummy")
        .first()
        if number
        else None
    )
    if invoice is None:
        return None
    verified = provider.payment_page_request(account_data(invoice.provider_account), params)
    if verified is None or verified[0] != invoice.pk or verified[1] != invoice.amount:
        return None
    return invoice, verified[2]


def _notify(request: HttpRequest, invoice: Invoice, extra: dict[str, str]) -> httpx.Response:
    """POST the signed notification to the shop's callback URL, to this very server: the network
    host's name is sent as Host to the loopback address (glibc does not resolve *.localhost)."""
    account = invoice.provider_account
    fields = _provider().callback_params(
        account_data(account), invoice.pk, invoice.amount, extra=extra
    )
    path = reverse("sandbox-dummy-result", kwargs={"partner_id": account.partner_id})
    target = urlsplit(settings.PLATFORM_BASE_URL)
    host = urlsplit(network_base_url(request.tenant)).netloc  # type: ignore[attr-defined]
    url = f"{target.scheme}://127.0.0.1:{target.port or 80}{path}"
    return httpx.post(url, data=fields, headers={"Host": host}, timeout=10)


@never_cache
@require_http_methods(["GET", "POST"])
def payment_page(request: HttpRequest) -> HttpResponse:
    source = request.POST if request.method == "POST" else request.GET
    params = {key: source.get(key, "") for key in source if key != "csrfmiddlewaretoken"}
    found = _invoice_for(params)
    if found is None:
        return render(request, "sandbox/pay.html", {"refused": True}, status=400)
    invoice, extra = found
    context = {
        "invoice": invoice,
        "partner": invoice.provider_account.partner,
        "params": sorted(params.items()),
        "sandbox_url": f"{settings.PLATFORM_BASE_URL}/sandbox/?lead="
        + str(invoice.deal.crm_deal_id if invoice.deal else WALK_LEAD_ID),
    }
    if request.method == "POST":
        try:
            answer = _notify(request, invoice, extra)
            context["answer"] = answer.text.strip()
            context["paid"] = answer.status_code == 200 and answer.text.startswith("OK")
        except httpx.HTTPError as exc:
            context["answer"] = type(exc).__name__
            context["paid"] = False
        return render(request, "sandbox/paid.html", context, status=200 if context["paid"] else 502)
    return render(request, "sandbox/pay.html", context)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def dummy_result(request: HttpRequest, partner_id: str) -> HttpResponse:
    """The dummy provider's ResultURL: the same receiver as Robokassa's, the dummy's verification."""
    raw = request.POST if request.method == "POST" else request.GET
    answer = callback_receive(
        partner_id=str(partner_id), raw={k: raw.getlist(k) for k in raw}, provider_slug="dummy"
    )
    return HttpResponse(
        answer.body, status=answer.status, content_type=f"{answer.content_type}; charset=utf-8"
    )
