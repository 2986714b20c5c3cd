"""Refund API payloads (§8, fiscal.md §3): a compact JSON payload in an HS256 JWT keyed with
Password #3. Pure functions, no network."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from decimal import Decimal
from typing import Any

from billing_providers.base import RefundRequest, RefundStatus
from billing_providers.errors import ProviderConfigError
from billing_providers.robokassa.consts import RECEIPT_ITEM_NAME_MAX_LENGTH

# A receipt position reverses one that was printed with a computed or nominal rate (fiscal §3).
_TAXES = frozenset(
    {"none", "vat0", "vat5", "vat7", "vat10", "vat20", "vat22"}
    | {"vat105", "vat107", "vat110", "vat120", "vat122"}
)
_METHODS = frozenset({"full_prepayment", "prepayment", "advance", "full_payment"})
# Refund/GetState labels (§8)
REFUND_LABELS: dict[str, RefundStatus] = {
    "processing": RefundStatus.PROCESSING,
    "finished": RefundStatus.FINISHED,
    "canceled": RefundStatus.CANCELED,
}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _number(amount: Decimal) -> Decimal:
    """A refund amount with at most two decimals, written as a JSON number by ``refund_token``."""
    value = amount.quantize(Decimal("0.01"))
    if value != amount:
        raise ProviderConfigError("A refund amount has more than two decimals", code="bad_amount")
    return value


def _compact_json(payload: dict[str, Any]) -> str:
    """Compact JSON with ASCII escapes, Decimals written as plain numbers (1500, 1499.5): never
    through a float. Each Decimal is first written as a unique quoted marker, then unquoted."""
    marker = f"@{secrets.token_hex(8)}@"

    def number(value: object) -> str:
        if isinstance(value, Decimal):
            return marker + format(value.normalize(), "f") + marker
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True, default=number)
    return re.sub(f'"{marker}(-?[0-9.]+){marker}"', r"\1", text)


def refund_payload(request: RefundRequest) -> dict[str, Any]:
    """The Create payload: ``OpKey``; ``RefundSum`` only for a partial refund ("не указывать при
    полном возврате"); ``InvoiceItems`` summing to the refund when given. Raises
    ProviderConfigError for a request Robokassa could never accept."""
    if not request.operation_key:
        raise ProviderConfigError("The operation has no OpKey", code="missing_operation_key")
    if request.amount <= 0:
        raise ProviderConfigError("A refund amount must be positive", code="bad_amount")
    payload: dict[str, Any] = {"OpKey": request.operation_key}
    if not request.full:
        payload["RefundSum"] = _number(request.amount)
    if request.items:
        if sum((item.amount for item in request.items), Decimal(0)) != request.amount:
            raise ProviderConfigError(
                "The refund receipt does not add up to the refund", code="receipt_amount_mismatch"
            )
        items = []
        for item in request.items:
            if item.tax not in _TAXES or item.payment_method not in _METHODS:
                raise ProviderConfigError("Unknown tax or payment method", code="bad_receipt")
            items.append(
                {
                    "Name": item.name[:RECEIPT_ITEM_NAME_MAX_LENGTH],
                    "Quantity": 1,
                    "Cost": _number(item.amount),
                    "Tax": item.tax,
                    "PaymentMethod": item.payment_method,
                    "PaymentObject": item.payment_object,
                }
            )
        payload["InvoiceItems"] = items
    return payload


def refund_token(payload: dict[str, Any], password3: str) -> str:
    """``b64url(header).b64url(payload).b64url(HMAC-SHA256)`` keyed with Password #3 as given;
    the payload is compact JSON with ASCII escapes (as in fiscal.md §9.1)."""
    header = _b64url(b'{"alg":"HS256","typ":"JWT"}')
    body = _b64url(_compact_json(payload).encode("ascii"))
    signing_input = f"{header}.{body}".encode("ascii")
    signature = hmac.new(password3.encode("utf-8"), signing_input, hashlib.sha256).digest()
    return f"{header}.{body}.{_b64url(signature)}"
