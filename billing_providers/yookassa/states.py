"""YooKassa's objects in the platform's neutral terms: payments (§2.2) as ``InvoiceState``,
receipts (§4.5) as ``SettlementReceiptResult``, ``GET /me`` (§7.4) as ``ShopInfo``. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from billing_providers.base import (
    InvoiceState,
    InvoiceStatus,
    ReceiptStatus,
    SettlementReceiptResult,
)
from billing_providers.errors import ProviderResponseError
from billing_providers.yookassa.client import parse_datetime
from billing_providers.yookassa.receipts import parse_money
from billing_providers.yookassa.webhooks import metadata_extra

PAYMENT_STATUSES: dict[str, InvoiceStatus] = {
    "pending": InvoiceStatus.PENDING,
    "waiting_for_capture": InvoiceStatus.HELD,
    "succeeded": InvoiceStatus.PAID,
    "canceled": InvoiceStatus.CANCELLED,
}
RECEIPT_STATUSES: dict[str, ReceiptStatus] = {
    "pending": ReceiptStatus.ACCEPTED,
    "succeeded": ReceiptStatus.REGISTERED,
    "canceled": ReceiptStatus.FAILED,
}
_FISCAL_FIELDS = (
    "fiscal_storage_number",
    "fiscal_document_number",
    "fiscal_attribute",
    "registered_at",
    "fiscal_provider_id",
)


@dataclass(frozen=True)
class ShopInfo:
    """``GET /me`` (§7.4): what the credentials reach. ``fiscalization`` is True when YooKassa
    sends receipts (Чеки от ЮKassa or a connected register): payments then need a receipt."""

    shop_id: str
    enabled: bool
    test: bool
    fiscalization: bool
    fiscal_provider: str | None
    payment_methods: tuple[str, ...]


def shop_info(me: Mapping[str, Any]) -> ShopInfo:
    """``ShopInfo`` from a ``GET /me`` answer (``fiscalization`` or the deprecated boolean)."""
    fiscal = me.get("fiscalization")
    enabled = fiscal.get("enabled") if isinstance(fiscal, dict) else me.get("fiscalization_enabled")
    provider = fiscal.get("provider") if isinstance(fiscal, dict) else None
    methods = me.get("payment_methods")
    return ShopInfo(
        shop_id=str(me.get("account_id") or ""),
        enabled=me.get("status") == "enabled",
        test=me.get("test") is True,
        fiscalization=enabled is True,
        fiscal_provider=str(provider) if isinstance(provider, str) else None,
        payment_methods=tuple(str(m) for m in methods) if isinstance(methods, list) else (),
    )


def payment_state(invoice_id: int, payment: Mapping[str, Any]) -> InvoiceState:
    """A payment object in neutral terms: a succeeded payment refunded in full is REFUNDED,
    one refunded in part stays PAID (the core tracks its refunds)."""
    raw = str(payment.get("status") or "")
    status = PAYMENT_STATUSES.get(raw, InvoiceStatus.UNKNOWN)
    amount = parse_money(payment.get("amount"))
    refunded = parse_money(payment.get("refunded_amount"))
    if status is InvoiceStatus.PAID and amount is not None and refunded == amount:
        status = InvoiceStatus.REFUNDED
    captured_at = parse_datetime(payment.get("captured_at"))
    method = payment.get("payment_method")
    cancellation = payment.get("cancellation_details")
    reason = cancellation.get("reason") if isinstance(cancellation, dict) else None
    extra = metadata_extra(payment.get("metadata"))
    if isinstance(reason, str):
        extra["cancellation_reason"] = reason
    return InvoiceState(
        invoice_id=invoice_id,
        status=status,
        amount=amount,
        paid_at=captured_at if status in (InvoiceStatus.PAID, InvoiceStatus.REFUNDED) else None,
        raw_code=raw or None,
        state_date=captured_at or parse_datetime(payment.get("created_at")),
        payment_method=str(method.get("type")) if isinstance(method, dict) else None,
        operation_key=str(payment.get("id") or "") or None,
        extra=extra,
    )


def receipt_result(receipt: Mapping[str, Any]) -> SettlementReceiptResult:
    raw = str(receipt.get("status") or "")
    status = RECEIPT_STATUSES.get(raw)
    receipt_id = receipt.get("id")
    if status is None or not isinstance(receipt_id, str):
        raise ProviderResponseError(f"Unexpected receipt status {raw!r}", code="unexpected_result")
    fiscal = {
        name: str(receipt[name]) for name in _FISCAL_FIELDS if receipt.get(name) not in (None, "")
    }
    return SettlementReceiptResult(
        accepted=status is not ReceiptStatus.FAILED,
        result_code=raw,
        description="YooKassa could not register the receipt"
        if status is ReceiptStatus.FAILED
        else None,
        operation_key=receipt_id,
        status=status,
        fiscal=fiscal if status is ReceiptStatus.REGISTERED else {},
    )
