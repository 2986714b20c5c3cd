"""The widget's API: amoCRM's disposable token, a bound account, the lead read from the CRM."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import CrmConnection
from franchise_platform.payments.models import Deal, PaymentLink
from tests.factories import shop
from tests.personas import platform_client

pytestmark = pytest.mark.django_db

AUD = "http://localhost:8000"


@pytest.fixture
def lead(connected, amo):
    """A lead of 5000 at a location of a partner with a shop, in the connected account."""
    net, account_id, crm = connected
    with tenant_context(net.network):
        location = shop().partner.locations.get()
        from franchise_platform.crm_sync.connectors import connector_for
        from franchise_platform.crm_sync.sender import fields_ensure

        crm = CrmConnection.objects.get(pk=crm.pk)
        fields = fields_ensure(crm, connector_for(crm))
    enum_id = fields.location_options[str(location.pk)]
    amo.set_lead(account_id, 7001, 5000, location_enum_id=enum_id, name="Квест на 6 человек")
    return net, account_id, location, enum_id


def call(amo, account_id, method="post", lead_id=7001, token=None, body=None, **headers):
    token = token or amo.make_widget_token(account_id, aud=AUD)
    client = platform_client()
    kwargs = {"HTTP_X_AUTH_TOKEN": token, **headers}
    if method == "post":
        return client.post(
            f"/api/widget/v1/leads/{lead_id}/links",
            json.dumps(body or {}),
            content_type="application/json",
            **kwargs,
        )
    return client.get(f"/api/widget/v1/leads/{lead_id}/links", **kwargs)


def test_button_returns_the_contract_shape(lead, amo):
    net, account_id, location, _ = lead

    response = call(amo, account_id)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["lead_id"] == 7001
    assert body["deal"] == {
        "total": "5000.00",
        "paid": "0.00",
        "remaining": "5000.00",
        "currency": "RUB",
        "status": "open",
        "overpaid": "0.00",
        "test_paid": "0.00",
        "refunded": "0.00",
        "service_date": None,
        "delivered_at": None,
        "receipts": [],
    }
    assert body["location"] == {"id": str(location.pk), "name": location.name}
    assert body["partner"]["id"] == str(location.partner_id)
    kinds = {link["kind"]: link for link in body["links"]}
    assert kinds["prepayment"]["amount"] == "1500.00"
    assert kinds["full"]["amount"] == "5000.00"
    assert kinds["full"]["url"].startswith(f"http://{net.host}:8000/pay/")
    assert {link["status"] for link in body["links"]} == {"active"}


def test_second_press_returns_the_same_links(lead, amo):
    net, account_id, _, _ = lead
    first = call(amo, account_id).json()["links"]

    second = call(amo, account_id).json()["links"]

    assert first == second
    with tenant_context(net.network):
        assert PaymentLink.objects.count() == 2


def test_get_shows_links_without_creating_any(lead, amo):
    net, account_id, _, _ = lead
    assert call(amo, account_id, method="get").status_code == 404
    call(amo, account_id)

    shown = call(amo, account_id, method="get")

    assert shown.status_code == 200
    assert len(shown.json()["links"]) == 2


def test_explicit_prepayment_amount(lead, amo):
    _, account_id, _, _ = lead

    body = call(amo, account_id, body={"prepayment_amount": "1000.00"}).json()

    assert {link["kind"]: link["amount"] for link in body["links"]}["prepayment"] == "1000.00"


def test_lead_without_location_is_422_in_russian(connected, amo):
    net, account_id, _ = connected
    amo.set_lead(account_id, 7002, 5000)

    response = call(amo, account_id, lead_id=7002)

    assert response.status_code == 422
    assert response.json()["code"] == "lead_without_location"
    assert "локация" in response.json()["detail"].lower()
    with tenant_context(net.network):
        assert not Deal.objects.exists()


def test_zero_price_is_422(lead, amo):
    net, account_id, location, enum_id = lead
    amo.set_lead(account_id, 7003, 0, location_enum_id=enum_id)

    response = call(amo, account_id, lead_id=7003)

    assert response.status_code == 422
    assert response.json()["code"] == "zero_price"


@pytest.mark.parametrize(
    "token_kwargs",
    [
        {"secret": "not-our-secret-but-long-enough-for-hs256-0123456789"},
        {"aud": "https://evil.example"},
        {"iat": lambda: int(time.time()) - 7200, "ttl": 60},
        {"nbf": lambda: int(time.time()) + 3600},
        {"algorithm": "HS512"},
        {"omit": ["account_id"]},
    ],
)
def test_bad_tokens_are_401_and_change_nothing(lead, amo, token_kwargs):
    net, account_id, _, _ = lead
    # Times are taken when the test runs, not when it is collected (a whole suite may lie between).
    kwargs = {"aud": AUD, **{k: v() if callable(v) else v for k, v in token_kwargs.items()}}

    response = call(amo, account_id, token=amo.make_widget_token(account_id, **kwargs))

    assert response.status_code == 401
    assert set(response.json()) == {"detail", "code"}
    with tenant_context(net.network):
        assert not Deal.objects.exists()


def test_missing_token_is_401(lead):
    response = platform_client().get("/api/widget/v1/leads/7001/links")
    assert response.status_code == 401


def test_reused_token_is_401(lead, amo):
    _, account_id, _, _ = lead
    token = amo.make_widget_token(account_id, aud=AUD)

    assert call(amo, account_id, token=token).status_code == 200
    assert call(amo, account_id, token=token).status_code == 401


def test_audience_without_port_is_accepted(lead, amo):
    _, account_id, _, _ = lead
    assert (
        call(
            amo, account_id, token=amo.make_widget_token(account_id, aud="http://localhost")
        ).status_code
        == 200
    )


def test_unbound_account_is_401_account_not_bound(amo):
    account_id = amo.add_account()

    response = call(amo, account_id)

    assert response.status_code == 401
    assert response.json()["code"] == "account_not_bound"


def test_suspended_network_is_403(lead, amo):
    net, account_id, _, _ = lead
    net.network.status = "suspended"
    net.network.save()
    try:
        response = call(amo, account_id)
    finally:
        net.network.status = "active"
        net.network.save()
    assert response.status_code == 403
    assert response.json()["code"] == "network_suspended"


def test_cors_preflight_allows_amocrm_origins_only(db):
    client = platform_client()
    ok = client.options(
        "/api/widget/v1/leads/1/links",
        HTTP_ORIGIN="https://chezaquest.amocrm.ru",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="x-auth-token",
    )
    evil = client.options(
        "/api/widget/v1/leads/1/links",
        HTTP_ORIGIN="https://evil.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )

    assert ok.status_code == 204
    assert ok["Access-Control-Allow-Origin"] == "https://chezaquest.amocrm.ru"
    assert "X-Auth-Token" in ok["Access-Control-Allow-Headers"]
    assert evil.status_code == 403
    assert "Access-Control-Allow-Origin" not in evil


def test_links_are_written_into_the_lead_through_the_outbox(lead, amo):
    from .conftest import outbox_drain

    net, account_id, _, _ = lead
    body = call(amo, account_id).json()

    outbox_drain(net.network)

    values = amo.lead_values(account_id, 7001)
    urls = {link["kind"]: link["url"] for link in body["links"]}
    assert urls["prepayment"] in values.values()
    assert urls["full"] in values.values()
    notes = amo.notes(account_id, 7001)
    assert len(notes) == 1
    assert "Ссылки на оплату сформированы" in notes[0]["params"]["text"]
    assert Decimal("0") == Decimal(str(values.get("Оплачено", 0)))


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"ttl": 24 * 3600}, "token_too_long_lived"),
        ({"client_uuid": "someone-elses-integration"}, "token_wrong_client"),
    ],
)
def test_a_long_lived_or_foreign_integration_token_is_refused(lead, amo, options, code):
    net, account_id, _, _ = lead
    token = amo.make_widget_token(account_id, aud=AUD, **options)

    response = call(amo, account_id, token=token)

    assert (response.status_code, response.json()["code"]) == (401, code)
    with tenant_context(net.network):
        assert not Deal.objects.filter(crm_deal_id=7001).exists()


def test_the_token_lifetime_bound_is_a_setting(lead, amo, settings):
    net, account_id, _, _ = lead
    settings.AMOCRM_WIDGET_TOKEN_MAX_LIFETIME = 600

    refused = call(amo, account_id, token=amo.make_widget_token(account_id, aud=AUD, ttl=1800))
    accepted = call(amo, account_id, token=amo.make_widget_token(account_id, aud=AUD, ttl=600))

    assert refused.status_code == 401 and accepted.status_code == 200
