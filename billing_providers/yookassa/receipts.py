"""54-FZ receipts in YooKassa's terms (§4): the ``receipt`` of a payment, the settlement receipt
(``POST /receipts``, §4.5) that closes a prepayment once the service is delivered, and the receipt
of a partial refund. Pure functions, no network.

The rules are Robokassa's (billing_providers/robokassa/receipts.py, fiscal.md §1.2), written
again here in YooKassa's vocabulary rather than imported, because a vendor imports no other
vendor: every invoice before the service is an advance (``full_prepayment`` for the whole price,
``partial_prepayment`` for a part), priced at the computed VAT rate; a payment at or after the
start of the service, and the settlement receipt, are ``full_payment`` at the nominal rate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from billing_providers.base import (
    PaymentKind,
    ReceiptRequest,
    ReceiptSummary,
    RefundItem,
    SettlementReceiptRequest,
)
from billing_providers.errors import ProviderConfigError
from billing_providers.yookassa.consts import CURRENCY, RECEIPT_ITEM_NAME_MAX_LENGTH

# Our tax-system names → ``tax_system_code`` (§4.3).
TAX_SYSTEM_CODES: dict[str, int] = {
    "osn": 1,
    "usn_income": 2,
    "usn_income_outcome": 3,
    "esn": 5,
    "patent": 6,
}

# Nominal rate → (``vat_code`` for a full payment, computed-rate code for advances) (§4.2).
VAT_CODES: dict[str, tuple[int, int]] = {
    "none": (1, 1),
    "vat0": (2, 2),
    "vat10": (3, 5),
    "vat20": (4, 6),
    "vat5": (7, 9),
    "vat7": (8, 10),
    "vat22": (11, 12),
}
# The tax as printed on a receipt (the neutral spelling ``RefundItem.tax`` uses) → ``vat_code``.
PRINTED_VAT_CODES: dict[str, int] = {
    "none": 1,
    "vat0": 2,
    "vat10": 3,
    "vat20": 4,
    "vat110": 5,
    "vat120": 6,
    "vat5": 7,
    "vat7": 8,
    "vat105": 9,
    "vat107": 10,
    "vat22": 11,
    "vat122": 12,
}
_PRINTED_BY_CODE = {code: name for name, code in PRINTED_VAT_CODES.items()}

PAYMENT_MODES: dict[PaymentKind, str] = {
    PaymentKind.PREPAYMENT: "partial_prepayment",
    PaymentKind.FULL: "full_prepayment",
    PaymentKind.REMAINDER: "partial_prepayment",
}
ADVANCE_MODES = frozenset({"full_prepayment", "partial_prepayment", "advance"})
SETTLEMENT_MODE = "full_payment"
PAYMENT_SUBJECT = "service"
MEASURE = "piece"
# The neutral (Robokassa-spelled) payment method of a receipt line ↔ YooKassa's ``payment_mode``.
NEUTRAL_MODES: dict[str, str] = {
    "full_prepayment": "full_prepayment",
    "prepayment": "partial_prepayment",
    "advance": "advance",
    "full_payment": "full_payment",
}
_NEUTRAL_BY_MODE = {mode: name for name, mode in NEUTRAL_MODES.items()}

_PHONE = re.compile(r"[0-9]{4,15}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}")


def money(amount: Decimal) -> dict[str, str]:
    """``{"value": "1500.00", "currency": "RUB"}`` from a positive Decimal with at most two
    decimals (§1.1). Raises ProviderConfigError otherwise (never rounds money)."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ProviderConfigError("An amount must be a finite Decimal", code="bad_amount")
    value = amount.quantize(Decimal("0.01"))
    if value != amount or value <= 0:
        raise ProviderConfigError(
            "An amount must be positive with at most two decimals", code="bad_amount"
        )
    return {"value": format(value, "f"), "currency": CURRENCY}


def parse_money(raw: object) -> Decimal | None:
    """The Decimal of a ``MonetaryAmount`` in roubles, or None for anything else."""
    if not isinstance(raw, Mapping) or raw.get("currency") != CURRENCY:
        return None
    value = raw.get("value")
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{1,15}(\.[0-9]{1,2})?", value):
        return None
    try:
        return Decimal(value).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def tax_system_code(tax_system: str) -> int:
    try:
        return TAX_SYSTEM_CODES[tax_system]
    except KeyError:
        raise ProviderConfigError(
            f"Unknown tax system {tax_system!r}", code="unknown_tax_system"
        ) from None


def vat_code(vat: str, payment_mode: str) -> int:
    """The computed rate for advances, the nominal one for ``full_payment``."""
    try:
        nominal, computed = VAT_CODES[vat]
    except KeyError:
        raise ProviderConfigError(f"Unknown VAT rate {vat!r}", code="unknown_vat") from None
    return computed if payment_mode in ADVANCE_MODES else nominal


def item_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ProviderConfigError("Receipt item name is empty", code="bad_receipt")
    return cleaned[:RECEIPT_ITEM_NAME_MAX_LENGTH]


def customer(*, email: str | None, phone: str | None) -> dict[str, str]:
    """The receipt's ``customer``: an e-mail (Чеки от ЮKassa need one) and/or a phone in
    digits only. Raises ProviderConfigError ``no_contact`` when there is neither."""
    contact: dict[str, str] = {}
    if email:
        if not _EMAIL.fullmatch(email) or len(email) > 254:
            raise ProviderConfigError("The buyer's e-mail is not valid", code="bad_contact")
        contact["email"] = email
    if phone:
        digits = re.sub(r"\D", "", phone)
        if not _PHONE.fullmatch(digits):
            raise ProviderConfigError("The buyer's phone is not valid", code="bad_contact")
        contact["phone"] = digits
    if not contact:
        raise ProviderConfigError(
            "A YooKassa receipt needs the buyer's e-mail or phone", code="no_contact"
        )
    return contact


def _item(name: str, amount: Decimal, code: int, mode: str) -> dict[str, Any]:
    # ``amount`` is the unit price (§4.1); with quantity 1 it is also the line's total.
    return {
        "description": item_name(name),
        "quantity": 1,
        "amount": money(amount),
        "vat_code": code,
        "payment_subject": PAYMENT_SUBJECT,
        "payment_mode": mode,
        "measure": MEASURE,
    }


def payment_mode(request: ReceiptRequest) -> str:
    return SETTLEMENT_MODE if request.service_rendered else PAYMENT_MODES[request.payment_kind]


def payment_receipt(
    request: ReceiptRequest, *, email: str | None, phone: str | None = None
) -> dict[str, Any]:
    """The ``receipt`` of ``POST /payments`` for one service line (§4.1, example §9a)."""
    mode = payment_mode(request)
    return {
        "customer": customer(email=email, phone=phone),
        "items": [_item(request.item_name, request.amount, vat_code(request.vat, mode), mode)],
        "tax_system_code": tax_system_code(request.tax_system),
    }


def settlement_receipt(request: SettlementReceiptRequest, *, payment_id: str) -> dict[str, Any]:
    """The body of ``POST /receipts`` that offsets one payment's advance (§4.5, example §9b):
    the same line as ``full_payment`` at the nominal rate, one ``prepayment`` settlement of the
    same total, ``send: true``."""
    if request.receipt_id <= 0:
        raise ProviderConfigError("The settlement receipt needs its own id", code="bad_receipt")
    total = money(request.amount)
    return {
        "type": "payment",
        "payment_id": payment_id,
        "customer": customer(email=request.email, phone=request.phone),
        "items": [
            _item(
                request.item_name,
                request.amount,
                vat_code(request.vat, SETTLEMENT_MODE),
                SETTLEMENT_MODE,
            )
        ],
        "settlements": [{"type": "prepayment", "amount": total}],
        "tax_system_code": tax_system_code(request.tax_system),
        "send": True,
    }


def _printed_vat_code(tax: str) -> int:
    text = tax.strip().lower()
    if text.isdigit() and 1 <= int(text) <= 12:
        return int(text)
    try:
        return PRINTED_VAT_CODES[text]
    except KeyError:
        raise ProviderConfigError(f"Unknown receipt tax {tax!r}", code="bad_receipt") from None


def _refund_mode(method: str) -> str:
    if method in _NEUTRAL_BY_MODE:
        return method
    try:
        return NEUTRAL_MODES[method]
    except KeyError:
        raise ProviderConfigError(
            f"Unknown receipt payment method {method!r}", code="bad_receipt"
        ) from None


def refund_receipt(
    items: Sequence[RefundItem],
    *,
    email: str | None,
    phone: str | None = None,
    tax_system: str | None = None,
) -> dict[str, Any]:
    """The ``receipt`` of a partial ``POST /refunds`` (§4.5, example §9c): the lines of the
    receipt being reversed (the same tax and payment method, neutral or YooKassa spelling)."""
    receipt: dict[str, Any] = {
        "customer": customer(email=email, phone=phone),
        "items": [
            _item(
                item.name,
                item.amount,
                _printed_vat_code(item.tax),
                _refund_mode(item.payment_method),
            )
            for item in items
        ],
    }
    if tax_system:
        receipt["tax_system_code"] = tax_system_code(tax_system)
    return receipt


def receipt_json(receipt: Mapping[str, Any]) -> str:
    """The receipt as sent (compact UTF-8 JSON), to keep beside the invoice."""
    return json.dumps(receipt, ensure_ascii=False, separators=(",", ":"))


def receipt_summary(text: str) -> ReceiptSummary | None:
    """Read back ``receipt_json`` output; None when it is not such a receipt. Never raises."""
    try:
        receipt = json.loads(text)
        item = receipt["items"][0]
        tax = _PRINTED_BY_CODE[int(item["vat_code"])]
        method = _NEUTRAL_BY_MODE[str(item["payment_mode"])]
        name = str(item["description"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    codes = {code: name for name, code in TAX_SYSTEM_CODES.items()}
    raw_code = receipt.get("tax_system_code")
    system = codes.get(raw_code) if isinstance(raw_code, int) else None
    return ReceiptSummary(tax_system=system, item_name=name, tax=tax, payment_method=method)
