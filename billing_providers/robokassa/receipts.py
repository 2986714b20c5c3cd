"""54-FZ receipts for Robokassa (§5): the ``Receipt`` sent with a payment and the second
("settlement") receipt that closes a prepayment once the service is delivered (§5.3)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import quote

from billing_providers.base import (
    PaymentKind,
    ReceiptRequest,
    ReceiptSummary,
    SettlementReceiptRequest,
)
from billing_providers.errors import ProviderConfigError
from billing_providers.robokassa.consts import RECEIPT_ITEM_NAME_MAX_LENGTH
from billing_providers.robokassa.signatures import Base64Alphabet, fiscal_envelope, format_out_sum

# Our tax-system names → Robokassa's ``sno`` codes (identical today; the map keeps the seam).
SNO_CODES: dict[str, str] = {
    "osn": "osn",
    "usn_income": "usn_income",
    "usn_income_outcome": "usn_income_outcome",
    "esn": "esn",
    "patent": "patent",
}

# Nominal rate → (receipt tax code for a full payment, computed-rate code for prepayments).
VAT_CODES: dict[str, tuple[str, str]] = {
    "none": ("none", "none"),
    "vat0": ("vat0", "vat0"),
    "vat5": ("vat5", "vat105"),
    "vat7": ("vat7", "vat107"),
    "vat10": ("vat10", "vat110"),
    "vat20": ("vat20", "vat120"),
    "vat22": ("vat22", "vat122"),
}

_VAT_PERCENT: dict[str, int] = {"vat5": 5, "vat7": 7, "vat10": 10, "vat20": 20, "vat22": 22}

# Every invoice is paid before the service is delivered, so each is a kind of prepayment:
# a full one before anything was paid, a partial one otherwise (DESIGN.md, "Money and receipts").
PAYMENT_METHODS: dict[PaymentKind, str] = {
    PaymentKind.PREPAYMENT: "prepayment",
    PaymentKind.FULL: "full_prepayment",
    PaymentKind.REMAINDER: "prepayment",
}
PREPAYMENT_METHODS = frozenset({"full_prepayment", "prepayment", "advance"})
PAYMENT_OBJECT = "service"
SETTLEMENT_PAYMENT_METHOD = "full_payment"
SETTLEMENT_PAYMENT_TYPE = 2  # offset of the advance / prepayment (§5.3)


def sno_code(tax_system: str) -> str:
    """Robokassa's ``sno`` for our tax system. Raises ProviderConfigError when unknown."""
    try:
        return SNO_CODES[tax_system]
    except KeyError:
        raise ProviderConfigError(
            f"Unknown tax system {tax_system!r}", code="unknown_tax_system"
        ) from None


def tax_code(vat: str, payment_method: str) -> str:
    """The item's ``tax`` code: the computed rate (``vat120``…) for prepayment-type methods,
    the nominal one otherwise. Raises ProviderConfigError for an unknown rate."""
    try:
        nominal, computed = VAT_CODES[vat]
    except KeyError:
        raise ProviderConfigError(f"Unknown VAT rate {vat!r}", code="unknown_vat") from None
    return computed if payment_method in PREPAYMENT_METHODS else nominal


def vat_amount(vat: str, amount: Decimal) -> Decimal:
    """The VAT included in ``amount`` (``amount × r / (100 + r)``, kopecks, half up)."""
    tax_code(vat, SETTLEMENT_PAYMENT_METHOD)  # validates the rate
    percent = _VAT_PERCENT.get(vat, 0)
    return (amount * percent / (100 + percent)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _item_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ProviderConfigError("Receipt item name is empty", code="bad_receipt")
    return cleaned[:RECEIPT_ITEM_NAME_MAX_LENGTH]


def _money(amount: Decimal) -> Decimal:
    return Decimal(format_out_sum(amount))


def build_receipt(request: ReceiptRequest) -> dict[str, Any]:
    """The ``Receipt`` object (§5.2) for one service line; amounts are ``Decimal``.

    Raises ProviderConfigError for an unknown tax system or VAT rate, an empty item name or a
    bad amount. Serialize with ``receipt_json``."""
    payment_method = (
        SETTLEMENT_PAYMENT_METHOD
        if request.service_rendered
        else PAYMENT_METHODS[request.payment_kind]
    )
    return {
        "sno": sno_code(request.tax_system),
        "items": [
            {
                "name": _item_name(request.item_name),
                "quantity": 1,
                "sum": _money(request.amount),
                "payment_method": payment_method,
                "payment_object": PAYMENT_OBJECT,
                "tax": tax_code(request.vat, payment_method),
            }
        ],
    }


def json_number(amount: Decimal) -> str:
    """A JSON number for an amount in rubles: ``1500``, ``1500.5``, ``0.99`` (never a float,
    never an exponent)."""
    text = format(amount, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _dump(value: Any, ensure_ascii: bool) -> str:
    if isinstance(value, Decimal):
        return json_number(value)
    if isinstance(value, Mapping):
        members = (
            f"{json.dumps(str(key), ensure_ascii=ensure_ascii)}:{_dump(item, ensure_ascii)}"
            for key, item in value.items()
        )
        return "{" + ",".join(members) + "}"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "[" + ",".join(_dump(item, ensure_ascii) for item in value) + "]"
    if isinstance(value, float):
        raise TypeError("floats are not allowed in receipts; use Decimal")
    return json.dumps(value, ensure_ascii=ensure_ascii)


def receipt_json(receipt: Mapping[str, Any], *, ensure_ascii: bool = False) -> str:
    """Compact JSON (no spaces), keys in insertion order, Decimals as plain numbers."""
    return _dump(receipt, ensure_ascii)


def encode_receipt(receipt_json_text: str) -> str:
    """The ``Receipt`` value as signed and sent: the JSON URL-encoded once (§2.4)."""
    return quote(receipt_json_text, safe="")


def build_settlement_receipt(
    request: SettlementReceiptRequest, *, merchant_login: str
) -> dict[str, Any]:
    """The second-receipt payload (§5.3), keys in the documented order.

    Raises ProviderConfigError for a reused id, no client contact, or bad tax settings."""
    if request.receipt_id == request.origin_invoice_id or request.receipt_id <= 0:
        raise ProviderConfigError(
            "The settlement receipt needs its own positive id", code="bad_receipt"
        )
    client = {
        key: value for key, value in (("email", request.email), ("phone", request.phone)) if value
    }
    if not client:
        raise ProviderConfigError("The receipt needs an e-mail or a phone", code="no_contact")
    if request.amount <= 0:
        raise ProviderConfigError("The offset must be positive", code="bad_receipt")
    total = _money(request.amount)
    tax = tax_code(request.vat, SETTLEMENT_PAYMENT_METHOD)
    return {
        "merchantId": merchant_login,
        "id": str(request.receipt_id),
        "originId": str(request.origin_invoice_id),
        "operation": "sell",
        "sno": sno_code(request.tax_system),
        "url": request.site_url,
        "total": total,
        "items": [
            {
                "name": _item_name(request.item_name),
                "quantity": 1,
                "sum": total,
                "tax": tax,
                "payment_method": SETTLEMENT_PAYMENT_METHOD,
                "payment_object": PAYMENT_OBJECT,
            }
        ],
        "client": client,
        "payments": [{"type": SETTLEMENT_PAYMENT_TYPE, "sum": total}],
        "vats": [{"type": tax, "sum": vat_amount(request.vat, total)}],
    }


def settlement_receipt_body(
    request: SettlementReceiptRequest,
    *,
    merchant_login: str,
    password1: str,
    algorithm: str,
    alphabet: Base64Alphabet = "urlsafe",
) -> str:
    """The signed request body for ``/RoboFiscal/Receipt/Attach``. The JSON is ASCII-only
    (``\\uXXXX`` escapes), so both base64 alphabets nearly always agree (§5.3)."""
    payload = receipt_json(
        build_settlement_receipt(request, merchant_login=merchant_login), ensure_ascii=True
    )
    return fiscal_envelope(payload, password1=password1, algorithm=algorithm, alphabet=alphabet)


def settlement_status_body(
    *,
    receipt_id: int,
    merchant_login: str,
    password1: str,
    algorithm: str,
    alphabet: Base64Alphabet = "urlsafe",
) -> str:
    """The signed body for ``/RoboFiscal/Receipt/Status``: the same envelope around
    ``{"merchantId","id"}`` (fiscal.md §2.3)."""
    payload = receipt_json({"merchantId": merchant_login, "id": str(receipt_id)}, ensure_ascii=True)
    return fiscal_envelope(payload, password1=password1, algorithm=algorithm, alphabet=alphabet)


def receipt_summary(text: str) -> ReceiptSummary | None:
    """Read back ``receipt_json`` output in neutral words; None when it is not such a receipt.
    Never raises."""
    try:
        receipt = json.loads(text)
        item = receipt["items"][0]
        codes = {code: name for name, code in SNO_CODES.items()}
        return ReceiptSummary(
            tax_system=codes.get(str(receipt["sno"])),
            item_name=str(item["name"]),
            tax=str(item.get("tax") or "none"),
            payment_method=str(item.get("payment_method") or "full_payment"),
            payment_object=str(item.get("payment_object") or PAYMENT_OBJECT),
        )
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None
