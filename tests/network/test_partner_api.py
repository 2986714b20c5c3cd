"""/api/v1 for a partner user's token: the same confinement as the panel. The answers name only
its partner's partner, locations, deals, payments and royalty statements; another partner's ids are
the API's 404, the same as ids that never existed; every other operation is 403, and nothing
changes. (Partner users cannot make tokens in the panel: tests/panel/test_partner_role.py.)"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.test import Client

from franchise_platform.accounts.services import api_token_create
from franchise_platform.network.models import Location, NetworkSettings, Partner
from franchise_platform.payments.models import Payment, Refund
from franchise_platform.royalties.services import statement_draft
from tests.network.conftest import patch_json, post_json, put_json
from tests.panel.test_partner_role import network  # noqa: F401  (fixture)
from tests.royalties.helpers import msk, set_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(network, in_network):  # noqa: F811
    _token, raw = api_token_create(user=network["user"], name="скрипт франчайзи")
    return Client(HTTP_HOST=in_network.host, HTTP_AUTHORIZATION=f"Bearer {raw}")


def _ok(response) -> object:
    assert response.status_code == 200, response.content
    return response.json()


def test_me_names_the_role_and_the_partner(api, network):  # noqa: F811
    body = _ok(api.get("/api/v1/me"))

    assert body["role"] == "partner"
    assert body["partner_id"] == str(network["kazan"].pk)


def test_partners_and_locations_are_its_own_only(api, network):  # noqa: F811
    kazan, ufa = network["kazan"], network["ufa"]

    partners = _ok(api.get("/api/v1/partners"))
    locations = _ok(api.get("/api/v1/locations"))
    filtered = _ok(api.get(f"/api/v1/locations?partner_id={ufa.pk}"))

    assert [p["id"] for p in partners] == [str(kazan.pk)]
    assert {loc["partner_id"] for loc in locations} == {str(kazan.pk)}
    assert filtered == []
    assert _ok(api.get(f"/api/v1/partners/{kazan.pk}"))["id"] == str(kazan.pk)


def test_payments_are_its_own_whatever_the_filter(api, network):  # noqa: F811
    kazan, ufa = network["kazan"], network["ufa"]

    everything = _ok(api.get("/api/v1/payments"))
    asked_for_ufa = _ok(api.get(f"/api/v1/payments?partner_id={ufa.pk}"))

    assert [p["partner_id"] for p in everything["items"]] == [str(kazan.pk)]
    assert everything["items"][0]["amount"] == "1500.00"
    assert asked_for_ufa["items"] == []


def test_own_deal_answers_and_anothers_is_404_like_a_missing_one(api, network):  # noqa: F811
    own = _ok(api.get(f"/api/v1/deals/{network['kazan_deal'].crm_deal_id}"))
    other = api.get(f"/api/v1/deals/{network['ufa_deal'].crm_deal_id}")
    missing = api.get("/api/v1/deals/999999999")

    assert own["partner"]["id"] == str(network["kazan"].pk)
    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json()


def test_another_partners_ids_are_404_like_missing_ones(api, network):  # noqa: F811
    ufa = network["ufa"]
    ufa_location = Location.objects.get(partner=ufa)

    for other, missing in (
        (f"/api/v1/partners/{ufa.pk}", f"/api/v1/partners/{uuid.uuid4()}"),
        (f"/api/v1/locations/{ufa_location.pk}", f"/api/v1/locations/{uuid.uuid4()}"),
    ):
        a, b = api.get(other), api.get(missing)
        assert a.status_code == b.status_code == 404
        assert a.json()["code"] == b.json()["code"] == "not_found"


def test_royalty_statements_are_its_own_only(api, network):  # noqa: F811
    kazan, ufa = network["kazan"], network["ufa"]
    for partner in (kazan, ufa):
        set_rule(partner, kind="percent", percent=Decimal("10"))
    own = statement_draft(partner_id=kazan.pk, period=msk(2026, 11, 1).date(), now=msk(2026, 12, 2))
    other = statement_draft(partner_id=ufa.pk, period=msk(2026, 11, 1).date(), now=msk(2026, 12, 2))

    listed = _ok(api.get("/api/v1/royalties/statements"))
    asked_for_ufa = _ok(api.get(f"/api/v1/royalties/statements?partner_id={ufa.pk}"))

    assert [s["id"] for s in listed["items"]] == [str(own.pk)]
    assert asked_for_ufa["items"] == []
    assert api.get(f"/api/v1/royalties/statements/{other.pk}").status_code == 404
    assert _ok(api.get(f"/api/v1/royalties/statements/{own.pk}"))["id"] == str(own.pk)


def test_every_other_operation_is_403_and_changes_nothing(api, network):  # noqa: F811
    kazan = network["kazan"]
    payment = Payment.objects.get(deal=network["kazan_deal"])
    settings_before = NetworkSettings.objects.get_or_create(pk=1)[0].prepayment_value
    answers = [
        api.get("/api/v1/settings"),
        put_json(api, "/api/v1/settings", {"prepayment": {"mode": "fixed", "value": "1"}}),
        post_json(api, "/api/v1/partners", {"name": "Новый"}),
        patch_json(api, f"/api/v1/partners/{kazan.pk}", {"name": "Чужой"}),
        api.delete(f"/api/v1/partners/{kazan.pk}"),
        post_json(api, "/api/v1/locations", {"name": "Новая", "partner_id": str(kazan.pk)}),
        post_json(api, f"/api/v1/partners/{kazan.pk}/test-invoice", {}),
        post_json(api, f"/api/v1/deals/{network['kazan_deal'].crm_deal_id}/delivered", {}),
        api.post(
            f"/api/v1/payments/{payment.invoice_id}/refund",
            {"amount": "10.00"},
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="k-1",
        ),
        post_json(api, "/api/v1/crm/amocrm/connect", {}),
    ]

    assert [a.status_code for a in answers] == [403] * len(answers)
    assert all(set(a.json()) == {"detail", "code"} for a in answers)
    assert Partner.objects.get(pk=kazan.pk).name == "ИП Казанцев"
    assert Partner.objects.count() == 2
    assert NetworkSettings.objects.get(pk=1).prepayment_value == settings_before
    assert Refund.objects.filter(payment=payment).count() == 1
