"""Network API: refunds of a paid invoice (CONTRACT "POST /api/v1/payments/{invoice_id}/refund")."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import Field

from franchise_platform.accounts.api_auth import (
    NetworkTokenAuth,
    require_editor,
    require_not_suspended,
)
from franchise_platform.api_errors import ERROR_RESPONSES, ApiError

from .models import Payment, Refund, RefundStatus
from .refunds import RefundRefused, refund_amount_parse, refund_request

router = Router(auth=NetworkTokenAuth(), tags=["refunds"])

# The contract's three states; `state` carries ours in full.
API_STATUS = {
    RefundStatus.PENDING: "pending",
    RefundStatus.PROCESSING: "pending",
    RefundStatus.UNKNOWN: "pending",
    RefundStatus.FINISHED: "succeeded",
    RefundStatus.CANCELED: "failed",
    RefundStatus.FAILED: "failed",
}


class RefundIn(Schema):
    amount: str = Field(description='Rubles as a decimal string, e.g. "500.00".')


class RefundOut(Schema):
    refund_id: str
    amount: str
    status: str = Field(description="pending | succeeded | failed")
    state: str = Field(
        description="pending | processing | finished | canceled | failed | unknown "
        "(no answer from the provider: check its cabinet; never re-sent automatically)"
    )
    receipt: str = Field(description="not_required | provider | issued | manual")
    detail: str = ""
    invoice_id: int


def refund_out(refund: Refund) -> dict[str, Any]:
    return {
        "refund_id": str(refund.pk),
        "amount": f"{refund.amount:.2f}",
        "status": API_STATUS[RefundStatus(refund.status)],
        "state": refund.status,
        "receipt": refund.receipt,
        "detail": refund.error,
        "invoice_id": refund.payment.invoice_id,
    }


@router.post("/payments/{invoice_id}/refund", response={202: RefundOut, **ERROR_RESPONSES})
def payment_refund(
    request: HttpRequest, invoice_id: int, payload: RefundIn
) -> Status[dict[str, Any]]:
    """Return money of one paid invoice to the buyer (owner or admin). Idempotent by the
    `Idempotency-Key` header: the same key answers the same refund; another amount with it is
    409. More than is left to refund is 422."""
    require_editor(request)
    require_not_suspended(request)
    amount = _amount(payload.amount)
    payment = Payment.objects.filter(invoice_id=invoice_id).values_list("pk", flat=True).first()
    if payment is None:
        raise ApiError(404, _("Оплаченного счёта с таким номером нет."), "not_found")
    try:
        outcome = refund_request(
            payment_id=payment,
            amount=amount,
            user=request.auth,  # type: ignore[attr-defined]
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
    except RefundRefused as refused:
        raise ApiError(refused.status, refused.detail, refused.code) from None
    refund = Refund.objects.select_related("payment").get(pk=outcome.refund.pk)
    return Status(202, refund_out(refund))


def _amount(raw: str) -> Any:
    try:
        return refund_amount_parse(raw)
    except RefundRefused as refused:
        raise ApiError(422, refused.detail, refused.code) from None
