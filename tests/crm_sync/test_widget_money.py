"""The widget's explicit prepayment takes only a money amount: finite, two places, 8 digits."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.payments.models import Deal
from tests.crm_sync.test_widget_api import call, lead  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "amount",
    ["NaN", "Infinity", "-Infinity", "1e999999", "1e3", "1000.555", "123456789", "-5", "abc", True],
)
def test_a_prepayment_that_is_not_money_is_422_in_russian_and_writes_nothing(lead, amo, amount):  # noqa: F811
    net, account_id, _, _ = lead

    response = call(amo, account_id, body={"prepayment_amount": amount})

    assert response.status_code == 422, response.content[:300]
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["code"] == "invalid_prepayment"
    assert "prepayment_amount" in body["detail"] and "умм" in body["detail"]
    with tenant_context(net.network):
        assert not Deal.objects.exists()


def test_a_json_number_that_overflows_a_float_is_422(lead, amo):  # noqa: F811
    from django.test import Client

    _, account_id, _, _ = lead
    token = amo.make_widget_token(account_id, aud="http://localhost:8000")

    response = Client(HTTP_HOST="localhost").post(
        "/api/widget/v1/leads/7001/links",
        '{"prepayment_amount": 1e999999}',
        content_type="application/json",
        HTTP_X_AUTH_TOKEN=token,
    )

    assert response.status_code == 422, response.content[:300]
    assert response.json()["code"] == "invalid_prepayment"


@pytest.mark.parametrize(("amount", "expected"), [("1000,5", "1000.50"), (1000, "1000.00")])
def test_a_prepayment_typed_with_a_comma_or_as_a_number_is_taken(lead, amo, amount, expected):  # noqa: F811
    _, account_id, _, _ = lead

    body = call(amo, account_id, body={"prepayment_amount": amount}).json()

    assert {link["kind"]: link["amount"] for link in body["links"]}["prepayment"] == expected
