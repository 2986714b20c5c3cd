"""54-FZ receipts: the table of tax systems × VAT × payment kinds, and the second receipt."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from typing import Any

import pytest

from billing_providers.base import PaymentKind
from billing_providers.errors import ProviderConfigError
from billing_providers.robokassa.receipts import (
    SettlementReceiptRequest,
    build_receipt,
    build_settlement_receipt,
    json_number,
    receipt_json,
    vat_amount,
)
from tests.billing_providers.factories import make_receipt

TAX_SYSTEMS = ("osn", "usn_income", "usn_income_outcome", "esn", "patent")
VAT_PREPAYMENT_CODES = {
    "none": "none",
    "vat0": "vat0",
    "vat5": "vat105",
    "vat7": "vat107",
    "vat10": "vat110",
    "vat20": "vat120",
    "vat22": "vat122",
}
PAYMENT_METHODS = {
    PaymentKind.PREPAYMENT: "prepayment",
    PaymentKind.FULL: "full_prepayment",
    PaymentKind.REMAINDER: "prepayment",
}


@pytest.mark.parametrize(
    ("tax_system", "vat", "kind"),
    list(itertools.product(TAX_SYSTEMS, VAT_PREPAYMENT_CODES, PaymentKind)),
)
def test_receipt_table(tax_system, vat, kind):
    receipt = build_receipt(
        make_receipt(tax_system=tax_system, vat=vat, payment_kind=kind, amount=Decimal("1234.50"))
    )
    assert receipt == {
        "sno": tax_system,
        "items": [
            {
                "name": "Подписка PRO",
                "quantity": 1,
                "sum": Decimal("1234.50"),
                "payment_method": PAYMENT_METHODS[kind],
                "payment_object": "service",
                "tax": VAT_PREPAYMENT_CODES[vat],
            }
        ],
    }
    # The wire form is compact JSON with plain numbers.
    assert '"sum":1234.5,' in receipt_json(receipt)


def test_item_name_is_cut_to_128_characters():
    name = "Участие в квесте «" + "Я" * 200 + "»"
    item = build_receipt(make_receipt(item_name=name))["items"][0]
    assert len(item["name"]) == 128
    assert item["name"] == name[:128]


def test_item_name_whitespace_is_collapsed_and_quotes_are_escaped():
    receipt = build_receipt(make_receipt(item_name='  Квест  "Тайная\nкомната" '))
    assert receipt["items"][0]["name"] == 'Квест "Тайная комната"'
    assert json.loads(receipt_json(receipt))["items"][0]["name"] == 'Квест "Тайная комната"'


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("tax_system", "envd", "unknown_tax_system"),
        ("vat", "vat18", "unknown_vat"),
        ("item_name", "   ", "bad_receipt"),
        ("amount", Decimal("1.001"), "bad_amount"),
    ],
)
def test_bad_receipt_settings_are_config_errors(field, value, code):
    with pytest.raises(ProviderConfigError) as caught:
        build_receipt(make_receipt(**{field: value}))
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("1500.00"), "1500"),
        (Decimal("1500.50"), "1500.5"),
        (Decimal("0.99"), "0.99"),
        (Decimal("100"), "100"),
        (Decimal("0.00"), "0"),
        (Decimal("1E+3"), "1000"),
    ],
)
def test_json_numbers(amount, text):
    assert json_number(amount) == text


def test_receipt_json_refuses_floats():
    with pytest.raises(TypeError):
        receipt_json({"sum": 1.5})


@pytest.mark.parametrize(
    ("vat", "expected"),
    [
        ("none", "0.00"),
        ("vat0", "0.00"),
        ("vat5", "57.14"),
        ("vat7", "78.50"),
        ("vat10", "109.09"),
        ("vat20", "200.00"),
        ("vat22", "216.39"),
    ],
)
def test_vat_amount_included_in_the_price(vat, expected):
    assert vat_amount(vat, Decimal("1200.00")) == Decimal(expected)


def _settlement(**overrides: Any) -> SettlementReceiptRequest:
    values: dict[str, Any] = {
        "receipt_id": 900245,
        "origin_invoice_id": 100245,
        "tax_system": "osn",
        "vat": "vat20",
        "item_name": "Участие в квесте",
        "amount": Decimal("1200.00"),
        "site_url": "https://chezaquest.example/",
        "email": "buyer@example.ru",
    }
    values.update(overrides)
    return SettlementReceiptRequest(**values)


def test_settlement_receipt_uses_full_payment_and_nominal_rate():
    payload = build_settlement_receipt(_settlement(), merchant_login="shop")
    item = payload["items"][0]
    assert item["payment_method"] == "full_payment"
    assert item["tax"] == "vat20"
    assert payload["payments"] == [{"type": 2, "sum": Decimal("1200.00")}]
    assert payload["vats"] == [{"type": "vat20", "sum": Decimal("200.00")}]
    assert payload["id"] == "900245"
    assert payload["originId"] == "100245"
    assert payload["operation"] == "sell"


def test_settlement_receipt_json_is_ascii():
    payload = build_settlement_receipt(_settlement(), merchant_login="shop")
    text = receipt_json(payload, ensure_ascii=True)
    assert text.isascii()
    assert json.loads(text)["items"][0]["name"] == "Участие в квесте"


@pytest.mark.parametrize(
    "overrides",
    [{"receipt_id": 100245}, {"receipt_id": 0}, {"email": None}],
)
def test_settlement_receipt_refusals(overrides):
    with pytest.raises(ProviderConfigError):
        build_settlement_receipt(_settlement(**overrides), merchant_login="shop")


def test_settlement_receipt_with_phone_only():
    payload = build_settlement_receipt(
        _settlement(email=None, phone="+79991234567"), merchant_login="shop"
    )
    assert payload["client"] == {"phone": "+79991234567"}
