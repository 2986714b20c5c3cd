"""POST /api/v1/signup exactly as CONTRACT.md says."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_exists, tenant_context

from franchise_platform.accounts.models import ApiToken, Role, User
from tenants.models import Domain, Network
from tests.personas import platform_client

pytestmark = pytest.mark.django_db

GOOD = {
    "network_name": "ЧеЗаКвест?!",
    "slug": "chezaquest-test",
    "owner_email": "Owner@Example.com",
    "owner_password": "Kazan-Quest-2026!",
}


def _signup(**overrides):
    return platform_client().post(
        "/api/v1/signup", {**GOOD, **overrides}, content_type="application/json"
    )


def test_signup_creates_schema_owner_and_working_token():
    response = _signup()

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "chezaquest-test"
    assert body["domain"] == "chezaquest-test.localhost"
    assert body["panel_url"] == "http://chezaquest-test.localhost:8000/panel/"
    network = Network.objects.get(slug="chezaquest-test")
    assert network.name == "ЧеЗаКвест?!"
    assert schema_exists(network.schema_name)
    assert Domain.objects.filter(tenant=network, domain="chezaquest-test.localhost").exists()
    with tenant_context(network):
        owner = User.objects.get()
        assert owner.email == "owner@example.com"
        assert owner.role == Role.OWNER
        assert owner.check_password(GOOD["owner_password"])
        assert ApiToken.objects.filter(user=owner).count() == 1
        # Only a hash is stored: the raw token appears nowhere in the table.
        assert not ApiToken.objects.filter(token_hash=body["api_token"]).exists()


def test_taken_slug_answers_409_and_changes_nothing(net_a):
    before = Network.objects.count()

    response = _signup(slug=net_a.network.slug)

    assert response.status_code == 409
    assert response.json()["code"] == "slug_taken"
    assert Network.objects.count() == before


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"slug": "ab"}, "invalid_slug"),
        ({"slug": "a" * 41}, "invalid_slug"),
        ({"slug": "-abc"}, "invalid_slug"),
        ({"slug": "abc-"}, "invalid_slug"),
        ({"slug": "Abc_d"}, "invalid_slug"),
        ({"slug": "кириллица"}, "invalid_slug"),
        ({"slug": "www"}, "reserved_slug"),
        ({"slug": "admin"}, "reserved_slug"),
        ({"slug": "public"}, "reserved_slug"),
        ({"slug": "static"}, "reserved_slug"),
        ({"slug": "network-template"}, "reserved_slug"),
        ({"slug": "pg-catalog"}, "reserved_slug"),
        ({"owner_password": "123"}, "weak_password"),
        ({"owner_password": "password123"}, "weak_password"),
        ({"owner_email": "not-an-email"}, "invalid_email"),
        ({"network_name": "  "}, "invalid_name"),
    ],
)
def test_bad_input_answers_422_with_reason_and_creates_nothing(overrides, code):
    before = Network.objects.count()

    response = _signup(**overrides)

    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == code
    assert body["detail"]
    assert Network.objects.count() == before


def test_missing_fields_answer_422_in_the_error_shape():
    response = platform_client().post(
        "/api/v1/signup", {"slug": "x"}, content_type="application/json"
    )

    assert response.status_code == 422
    assert set(response.json()) == {"detail", "code"}
