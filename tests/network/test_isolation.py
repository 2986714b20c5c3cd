"""Network B's people and credentials reach nothing of network A: its ids do not exist on B's host,
its token means nothing on A's host, and its session is not a login on A's host."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.network.models import Location, Partner
from tests.network.conftest import patch_json

pytestmark = pytest.mark.django_db


def _snapshot(net):
    with tenant_context(net.network):
        return (
            list(Partner.objects.values_list("id", "name", "active")),
            list(Location.objects.values_list("id", "name", "partner_id", "active")),
        )


def test_owner_of_b_with_a_ids_gets_404_from_the_api_and_changes_nothing(net_a, owner_b, partner_a):
    with tenant_context(net_a.network):
        location = Location.objects.get(partner=partner_a)
    before = _snapshot(net_a)
    api = owner_b.api()

    answers = [
        api.get(f"/api/v1/partners/{partner_a.pk}"),
        patch_json(api, f"/api/v1/partners/{partner_a.pk}", {"name": "Чужой", "active": False}),
        api.delete(f"/api/v1/partners/{partner_a.pk}"),
        api.get(f"/api/v1/locations/{location.pk}"),
        patch_json(api, f"/api/v1/locations/{location.pk}", {"name": "Чужая"}),
        api.delete(f"/api/v1/locations/{location.pk}"),
    ]

    assert [a.status_code for a in answers] == [404] * 6
    assert {a.json()["code"] for a in answers} == {"not_found"}
    assert api.get("/api/v1/partners").json() == []
    assert _snapshot(net_a) == before


def test_owner_of_b_with_a_ids_gets_404_in_the_panel_and_changes_nothing(net_a, owner_b, partner_a):
    with tenant_context(net_a.network):
        location = Location.objects.get(partner=partner_a)
    before = _snapshot(net_a)
    panel = owner_b.browser_client()

    answers = [
        panel.get(f"/panel/partners/{partner_a.pk}/"),
        panel.get(f"/panel/partners/{partner_a.pk}/edit/"),
        panel.post(f"/panel/partners/{partner_a.pk}/edit/", {"name": "Чужой"}),
        panel.post(f"/panel/partners/{partner_a.pk}/toggle/"),
        panel.post(f"/panel/partners/{partner_a.pk}/delete/"),
        panel.get(f"/panel/locations/{location.pk}/edit/"),
        panel.post(f"/panel/locations/{location.pk}/edit/", {"name": "Чужая"}),
        panel.post(f"/panel/locations/{location.pk}/toggle/"),
        panel.post(f"/panel/locations/{location.pk}/delete/"),
        panel.get(f"/panel/locations/new/?partner={partner_a.pk}"),
    ]

    assert [a.status_code for a in answers] == [404] * 9 + [200]
    assert partner_a.name not in answers[-1].content.decode()
    assert _snapshot(net_a) == before


def test_token_of_b_on_the_host_of_a_is_401(net_a, owner_b, partner_a):
    on_a = net_a.anonymous()

    answers = [
        on_a.get("/api/v1/partners", HTTP_AUTHORIZATION=f"Bearer {owner_b.api_token}"),
        on_a.get(
            f"/api/v1/partners/{partner_a.pk}", HTTP_AUTHORIZATION=f"Bearer {owner_b.api_token}"
        ),
        on_a.delete(
            f"/api/v1/partners/{partner_a.pk}", HTTP_AUTHORIZATION=f"Bearer {owner_b.api_token}"
        ),
    ]

    assert [a.status_code for a in answers] == [401, 401, 401]
    with tenant_context(net_a.network):
        assert Partner.objects.filter(pk=partner_a.pk).exists()


def test_session_of_b_is_not_a_login_on_the_host_of_a(net_a, owner_b):
    logged_in_on_b = owner_b.browser_client()
    assert logged_in_on_b.get("/panel/").status_code == 200
    on_a = net_a.anonymous()
    on_a.cookies = logged_in_on_b.cookies

    response = on_a.get("/panel/partners/")

    assert response.status_code == 302
    assert response["Location"].startswith("/panel/login/")
