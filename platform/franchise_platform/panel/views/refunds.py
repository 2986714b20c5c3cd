"""Refunds from a deal's page: an owner or admin returns money of one payment, confirming by
typing the amount or the word «ВОЗВРАТ». The form carries a one-time key, so a double submit
answers the same refund instead of asking for a second one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from franchise_platform.flows.refund import refund_cabinet_record
from franchise_platform.payments.models import REFUND_HOLDING, Deal, Payment, Refund, RefundStatus
from franchise_platform.payments.refunds import (
    CONFIRM_WORD,
    RefundRefused,
    refund_amount_parse,
    refund_confirmation_ok,
    refund_request,
)
from franchise_platform.payments.selectors import deal_get

from ..access import actor, panel_view


@dataclass(frozen=True)
class RefundOffer:
    """What the deal page offers for one payment: how much is left and what to prefill."""

    payment: Payment
    refundable: Decimal
    prefill: Decimal
    form_key: str


def refund_offers(*, deal: Deal) -> dict[uuid.UUID, RefundOffer]:
    """Per live payment of the deal with money left to return: the prefilled amount is what is
    due back (an overpayment) when flagged, otherwise everything left."""
    held = dict(
        Refund.objects.filter(deal=deal, status__in=REFUND_HOLDING)
        .values("payment_id")
        .annotate(s=Sum("amount"))
        .values_list("payment_id", "s")
    )
    offers: dict[uuid.UUID, RefundOffer] = {}
    for payment in Payment.objects.filter(deal=deal, is_test=False):
        left = max(payment.amount - (held.get(payment.pk) or Decimal(0)), Decimal(0))
        if left <= 0:
            continue
        due = min(payment.refund_due, left)
        offers[payment.pk] = RefundOffer(
            payment=payment,
            refundable=left,
            prefill=due if due > 0 else left,
            form_key=uuid.uuid4().hex,
        )
    return offers


def deal_refunds(*, deal: Deal) -> list[Refund]:
    return list(Refund.objects.filter(deal=deal).select_related("payment").order_by("created_at"))


@require_POST
@panel_view(edit=True)
def payment_refund(request: HttpRequest, deal_id: str, payment_id: str) -> HttpResponse:
    deal = deal_get(deal_id=deal_id)
    pk = _uuid(payment_id)
    payment = Payment.objects.filter(deal=deal, pk=pk).first() if pk else None
    if payment is None:
        raise Payment.DoesNotExist
    back = redirect("panel:deal_detail", deal_id=deal.pk)
    try:
        amount = refund_amount_parse(request.POST.get("amount"))
    except RefundRefused as refused:
        messages.error(request, refused.detail)
        return back
    if not refund_confirmation_ok(typed=request.POST.get("confirm", ""), amount=amount):
        messages.error(
            request,
            _(
                "Возврат не отправлен: для подтверждения введите сумму %(amount)s или слово «%(word)s»."
            )
            % {"amount": amount, "word": CONFIRM_WORD},
        )
        return back
    key = (request.POST.get("key") or "")[:64]
    try:
        outcome = refund_request(
            payment_id=payment.pk,
            amount=amount,
            user=request.user,
            idempotency_key=f"panel:{key}" if key else "",
        )
    except RefundRefused as refused:
        messages.error(request, refused.detail)
        return back
    refund = outcome.refund
    if refund.status == RefundStatus.FAILED:
        messages.error(request, refund.error or _("Провайдер отклонил возврат."))
    elif refund.status == RefundStatus.UNKNOWN:
        messages.warning(request, refund.error)
    else:
        messages.success(
            request,
            _("Возврат %(amount)s ₽ отправлен в Robokassa: сделка обновится, когда он выполнится.")
            % {"amount": refund.amount},
        )
    return back


@require_POST
@panel_view(edit=True)
def payment_refund_cabinet(request: HttpRequest, deal_id: str, payment_id: str) -> HttpResponse:
    """Record a refund the partner already made in Robokassa's cabinet (nothing is sent)."""
    deal = deal_get(deal_id=deal_id)
    pk = _uuid(payment_id)
    payment = Payment.objects.filter(deal=deal, pk=pk).first() if pk else None
    if payment is None:
        raise Payment.DoesNotExist
    back = redirect("panel:deal_detail", deal_id=deal.pk)
    try:
        refund = refund_cabinet_record(
            payment_id=payment.pk,
            amount=request.POST.get("amount", ""),
            confirm=request.POST.get("confirm", ""),
            user=request.user,
            form_key=request.POST.get("key") or "",
            ip_address=actor(request)["ip_address"],
        )
    except RefundRefused as refused:
        messages.error(request, refused.detail)
        return back
    messages.success(
        request,
        _("Возврат %(amount)s ₽, сделанный в кабинете, внесён: сделка пересчитана.")
        % {"amount": refund.amount},
    )
    return back


def _uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
