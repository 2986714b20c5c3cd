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


PANEL_SETTINGS = {
    "prepayment_mode": "fixed",
    "prepayment_value": "1000",
    "invoice_ttl_hours": "12",
    "item_name": "Игра",
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("123456789", "Сумма слишком большая"),
        ("10,555", "не больше двух знаков"),
        ("1e3", "Сумма должна быть числом"),
    ],
)
def test_panel_settings_use_the_same_money_rules(owner_a, net_a, value, message):
    from django_tenants.utils import tenant_context

    from franchise_platform.network.models import NetworkSettings

    client = owner_a.browser_client()
    client.get("/panel/settings/")  # the settings row exists from the first visit on
    with tenant_context(net_a.network):
        before = NetworkSettings.objects.values_list("prepayment_value", flat=True).first()

    response = client.post("/panel/settings/", {**PANEL_SETTINGS, "prepayment_value": value})

    assert response.status_code == 200
    assert message in response.content.decode()
    with tenant_context(net_a.network):
        assert NetworkSettings.objects.values_list("prepayment_value", flat=True).first() == before


@pytest.mark.django_db
def test_panel_settings_take_a_comma(owner_a, net_a):
    from django_tenants.utils import tenant_context

    from franchise_platform.network.models import NetworkSettings

    response = owner_a.browser_client().post(
        "/panel/settings/", {**PANEL_SETTINGS, "prepayment_value": "1500,50"}
    )

    assert response.status_code == 302
    with tenant_context(net_a.network):
        assert NetworkSettings.objects.get().prepayment_value == Decimal("1500.50")
