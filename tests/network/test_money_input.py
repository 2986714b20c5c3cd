"""One money input for every amount from outside (franchise_platform/inputs.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from franchise_platform.inputs import MoneyInputError, money_parse

SETTINGS = "/api/v1/settings"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1500", "1500.00"),
        ("1500.5", "1500.50"),
        ("1500,50", "1500.50"),
        (" 7 ", "7.00"),
        (1500, "1500.00"),
        (1500.25, "1500.25"),
        ("99999999.99", "99999999.99"),
        ("1500.000000", "1500.00"),
        (Decimal("12.30"), "12.30"),
    ],
)
def test_money_parse_takes_amounts(raw, expected):
    assert money_parse(raw) == Decimal(expected)
    assert str(money_parse(raw)) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "1e999999",
        "1e3",
        "0.001",
        "100000000",
        "-5",
        "",
        ".5",
        "０１",
        "1 000",
        True,
        None,
        [],
        {},
        float("nan"),
        float("inf"),
        1e20,
        10**30,
        Decimal("NaN"),
        Decimal("1E+999999"),
        Decimal("0.001"),
    ],
)
def test_money_parse_refuses_anything_else_in_russian(raw):
    with pytest.raises(MoneyInputError) as refused:
        money_parse(raw)
    assert "Сумм" in str(refused.value) or "сумм" in str(refused.value)


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["NaN", "Infinity", "1e999999", "123456789", "10.005"])
def test_settings_prepayment_that_is_not_money_is_422_in_russian(owner_a, value):
    body = {
        "prepayment": {"mode": "fixed", "value": value},
        "invoice_ttl_hours": 24,
        "item_name": "Квест",
    }

    response = owner_a.api().put(SETTINGS, body, content_type="application/json")

    assert response.status_code == 422, response.content[:300]
    assert response.json()["code"] == "invalid_prepayment"
    assert "prepayment.value" in response.json()["detail"]
    assert "Сумм" in response.json()["detail"] or "знак" in response.json()["detail"]
