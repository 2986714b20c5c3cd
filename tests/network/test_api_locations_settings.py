"""/api/v1/locations, /api/v1/settings and /api/v1/me as CONTRACT.md says."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.network.models import Location, NetworkSettings
from franchise_platform.payments.models import Deal
from tests.network.conftest import make_partner, partner_body, patch_json, post_json, put_json

pytestmark = pytest.mark.django_db

URL = "/api/v1/locations"


def _partner_id(persona) -> str:
    return post_json(persona.api(), "/api/v1/partners", partner_body()).json()["id"]


def test_location_create_list_get_patch_delete(owner_a, net_a):
    client = owner_a.api()
    pid = _partner_id(owner_a)

    created = post_json(
        client, URL, {"name": "Квест «Тайная комната», ул. Баумана 1", "partner_id": pid}
    )
    lid = created.json()["id"]
    listed = client.get(URL)
    fetched = client.get(f"{URL}/{lid}")
    patched = patch_json(
        client, f"{URL}/{lid}", {"name": "Квест «Тайная комната»", "active": False}
    )
    deleted = client.delete(f"{URL}/{lid}")

    assert created.status_code == 201, created.content
    assert created.json() == {
        "id": lid,
        "name": "Квест «Тайная комната», ул. Баумана 1",
        "address": "",
        "partner_id": pid,
        "active": True,
    }
    assert listed.json() == [created.json()]
    assert fetched.json() == created.json()
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["active"]) == ("Квест «Тайная комната»", False)
    assert deleted.status_code == 204
    assert client.get(f"{URL}/{lid}").status_code == 404


def test_location_moves_to_another_partner(owner_a, net_a):
    client = owner_a.api()
    first = _partner_id(owner_a)
    second = make_partner(net_a.network, name="ООО «Второй»").pk
    lid = post_json(client, URL, {"name": "Квест «Шерлок»", "partner_id": first}).json()["id"]

    moved = patch_json(client, f"{URL}/{lid}", {"partner_id": str(second)})

    assert moved.status_code == 200
    assert moved.json()["partner_id"] == str(second)
    assert [loc["id"] for loc in client.get(URL, {"partner_id": str(second)}).json()] == [lid]
    assert client.get(URL, {"partner_id": first}).json() == []


def test_location_names_are_unique_and_required(owner_a):
    pid = _partner_id(owner_a)
    post_json(owner_a.api(), URL, {"name": "Квест «Шерлок»", "partner_id": pid})

    duplicate = post_json(owner_a.api(), URL, {"name": "квест «шерлок»", "partner_id": pid})
    empty = post_json(owner_a.api(), URL, {"name": "  ", "partner_id": pid})

    assert (duplicate.status_code, duplicate.json()["code"]) == (422, "name_taken")
    assert (empty.status_code, empty.json()["code"]) == (422, "name_required")


def test_location_with_a_partner_of_another_network_is_refused(owner_a, owner_b, net_a, net_b):
    foreign = make_partner(net_b.network, name="ООО «Браво»").pk

    response = post_json(owner_a.api(), URL, {"name": "Квест", "partner_id": str(foreign)})

    assert (response.status_code, response.json()["code"]) == (422, "partner_not_found")
    with tenant_context(net_a.network):
        assert not Location.objects.exists()


def test_viewer_cannot_write_locations(owner_a, viewer_a, net_a):
    pid = _partner_id(owner_a)
    lid = post_json(owner_a.api(), URL, {"name": "Квест", "partner_id": pid}).json()["id"]

    answers = [
        post_json(viewer_a.api(), URL, {"name": "Ещё", "partner_id": pid}).status_code,
        patch_json(viewer_a.api(), f"{URL}/{lid}", {"name": "Взлом"}).status_code,
        viewer_a.api().delete(f"{URL}/{lid}").status_code,
    ]

    assert answers == [403, 403, 403]
    assert viewer_a.api().get(f"{URL}/{lid}").json()["name"] == "Квест"


def test_location_with_deals_cannot_be_deleted(owner_a, net_a):
    pid = _partner_id(owner_a)
    lid = post_json(owner_a.api(), URL, {"name": "Квест", "partner_id": pid}).json()["id"]
    with tenant_context(net_a.network):
        Deal.objects.create(crm_deal_id=42, total="1000.00", location_id=lid, partner_id=pid)

    response = owner_a.api().delete(f"{URL}/{lid}")

    assert (response.status_code, response.json()["code"]) == (409, "location_has_deals")
    assert owner_a.api().get(f"{URL}/{lid}").status_code == 200


SETTINGS = "/api/v1/settings"


def test_settings_defaults_with_decimals_as_strings(owner_a):
    response = owner_a.api().get(SETTINGS)

    assert response.status_code == 200
    assert response.json() == {
        "prepayment": {"mode": "percent", "value": "30.00"},
        "invoice_ttl_hours": 24,
        "item_name": "Участие в квесте «{location}»",
        "delivered_status_ids": [142],
    }


@pytest.mark.parametrize(
    ("prepayment", "expected"),
    [
        ({"mode": "percent", "value": "30"}, {"mode": "percent", "value": "30.00"}),
        ({"mode": "percent", "value": "12.5"}, {"mode": "percent", "value": "12.50"}),
        ({"mode": "fixed", "value": "1000"}, {"mode": "fixed", "value": "1000.00"}),
    ],
)
def test_settings_put_round_trips(owner_a, net_a, prepayment, expected):
    body = {"prepayment": prepayment, "invoice_ttl_hours": 48, "item_name": "Квест «{location}»"}

    response = put_json(owner_a.api(), SETTINGS, body)

    assert response.status_code == 200, response.content
    assert response.json() == {**body, "prepayment": expected, "delivered_status_ids": [142]}
    assert owner_a.api().get(SETTINGS).json() == response.json()


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"prepayment": {"mode": "percent", "value": "0"}}, "invalid_prepayment"),
        ({"prepayment": {"mode": "percent", "value": "100"}}, "invalid_prepayment"),
        ({"prepayment": {"mode": "percent", "value": "150"}}, "invalid_prepayment"),
        ({"prepayment": {"mode": "fixed", "value": "0"}}, "invalid_prepayment"),
        ({"prepayment": {"mode": "fixed", "value": "-5"}}, "invalid_prepayment"),
        ({"prepayment": {"mode": "fixed", "value": "10.005"}}, "invalid_prepayment"),
        ({"prepayment": {"mode": "share", "value": "30"}}, "validation_error"),
        ({"invoice_ttl_hours": 0}, "invalid_invoice_ttl"),
        ({"invoice_ttl_hours": 721}, "invalid_invoice_ttl"),
        ({"item_name": "Квест {name}"}, "invalid_item_name"),
        ({"item_name": "Квест {location.__class__}"}, "invalid_item_name"),
        ({"item_name": "Квест {location!r}"}, "invalid_item_name"),
        ({"item_name": "Квест {location:>10}"}, "invalid_item_name"),
        ({"item_name": "Квест {"}, "invalid_item_name"),
        ({"item_name": "Квест {0}"}, "invalid_item_name"),
        ({"item_name": "я" * 129}, "item_name_too_long"),
        ({"item_name": ""}, "item_name_required"),
    ],
)
def test_settings_put_refuses_bad_values_and_changes_nothing(owner_a, net_a, overrides, code):
    body = {
        "prepayment": {"mode": "percent", "value": "30"},
        "invoice_ttl_hours": 24,
        "item_name": "Квест",
    }

    response = put_json(owner_a.api(), SETTINGS, {**body, **overrides})

    assert response.status_code == 422
    assert response.json()["code"] == code
    assert response.json()["detail"]
    with tenant_context(net_a.network):
        row = NetworkSettings.objects.filter(pk=1).first()
        assert row is None or (row.item_name, row.invoice_ttl_hours) == (
            "Участие в квесте «{location}»",
            24,
        )


def test_item_name_without_a_placeholder_is_fine(owner_a):
    body = {
        "prepayment": {"mode": "percent", "value": "50"},
        "invoice_ttl_hours": 720,
        "item_name": "Игра",
    }

    assert put_json(owner_a.api(), SETTINGS, body).status_code == 200


def test_viewer_reads_settings_but_cannot_put(viewer_a, net_a):
    body = {"prepayment": {"mode": "fixed", "value": "1"}, "invoice_ttl_hours": 1, "item_name": "x"}

    assert viewer_a.api().get(SETTINGS).status_code == 200
    assert put_json(viewer_a.api(), SETTINGS, body).status_code == 403
    assert viewer_a.api().get(SETTINGS).json()["prepayment"] == {
        "mode": "percent",
        "value": "30.00",
    }


@pytest.mark.parametrize("persona", ["owner", "admin", "viewer"])
def test_me_names_the_caller_role_and_network(net_a, persona):
    who = getattr(net_a, persona)

    response = who.api().get("/api/v1/me")

    assert response.status_code == 200
    assert response.json() == {
        "email": who.email,
        "role": persona,
        # Only a partner user is confined to a partner (tests/network/test_partner_api.py).
        "partner_id": None,
        "network": {"slug": net_a.network.slug, "name": net_a.network.name},
    }


def test_openapi_and_docs_are_served_and_no_response_schema_has_a_password(owner_a):
    schema = owner_a.api().get("/api/v1/openapi.json")
    docs = owner_a.api().get("/api/v1/docs")

    assert schema.status_code == 200
    assert docs.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/api/v1/partners",
        "/api/v1/partners/{partner_id}",
        "/api/v1/locations",
        "/api/v1/locations/{location_id}",
        "/api/v1/settings",
        "/api/v1/me",
    ):
        assert path in paths
    components = schema.json()["components"]["schemas"]
    for name in ("PartnerOut", "RobokassaOut", "LocationOut", "SettingsOut"):
        assert "password" not in str(components[name]).lower()
