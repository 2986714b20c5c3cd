"""Refund requests and states (§5). Pure functions, no network."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from billing_providers.base import RefundRequest, RefundStatus
from billing_providers.errors import ProviderConfigError
from billing_providers.yookassa.consts import INVOICE_ID_KEY, REFUND_DESCRIPTION_MAX_LENGTH
from billing_providers.yookassa.receipts import money, refund_receipt

REFUND_STATUSES: dict[str, RefundStatus] = {
    "pending": RefundStatus.PROCESSING,
    "succeeded": RefundStatus.FINISHED,
    "canceled": RefundStatus.CANCELED,
}


@dataclass(frozen=True)
class YooKassaRefundRequest(RefundRequest):
    """``RefundRequest`` (whose ``idempotence_key``, contact, tax system and invoice id YooKassa
    uses) with a reason shown in the cabinet."""

    description: str = ""


def refund_body(request: RefundRequest) -> dict[str, Any]:
    """The ``POST /refunds`` body. A full refund carries no receipt: YooKassa reverses the
    payment's own (§4.5); a partial one with ``items`` carries the refund receipt. Raises
    ProviderConfigError for a request YooKassa could never accept."""
    if not request.operation_key:
        raise ProviderConfigError("The refund names no payment", code="missing_operation_key")
    body: dict[str, Any] = {"payment_id": request.operation_key, "amount": money(request.amount)}
    extended = request if isinstance(request, YooKassaRefundRequest) else None
    if extended is not None and extended.description:
        body["description"] = " ".join(extended.description.split())[:REFUND_DESCRIPTION_MAX_LENGTH]
    if request.invoice_id is not None:
        body["metadata"] = {INVOICE_ID_KEY: str(request.invoice_id)}
    if request.items and not request.full:
        if sum(item.amount for item in request.items) != request.amount:
            raise ProviderConfigError(
                "The refund receipt does not add up to the refund", code="receipt_amount_mismatch"
            )
        body["receipt"] = refund_receipt(
            request.items,
            email=request.email,
            phone=request.phone,
            tax_system=request.tax_system,
        )
    return body


def refund_status(refund: Mapping[str, Any]) -> RefundStatus:
    status = refund.get("status")
    return (
        REFUND_STATUSES.get(status, RefundStatus.UNKNOWN)
        if isinstance(status, str)
        else (RefundStatus.UNKNOWN)
    )
