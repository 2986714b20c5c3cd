"""/api/v1/partners refusals: INN and OGRN by their control digits, enums, passwords, nulls (422)."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.network.models import Partner
from tests.network.conftest import (
    INN_IP,
    INN_OOO,
    OGRN,
    OGRNIP,
    partner_body,
    patch_json,
    post_json,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/partners"


def _partners(net) -> int:
    with tenant_context(net.network):
        return Partner.objects.count()


@pytest.mark.parametrize(
    ("legal_form", "inn"),
    [
        ("ip", "500100732258"),  # last control digit wrong
        ("ip", "50010073225"),  # 11 digits
        ("ip", INN_OOO),  # an organisation's 10 digits for an ИП
        ("ooo", "7707083894"),  # control digit wrong
        ("ooo", INN_IP),  # an ИП's 12 digits for an ООО
        ("ooo", "77070838a3"),
    ],
)
def test_bad_inn_answers_422_with_a_clear_message_and_saves_nothing(
    owner_a, net_a, legal_form, inn
):
    response = post_json(owner_a.api(), URL, partner_body(legal_form=legal_form, inn=inn))

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_inn"
    assert body["detail"].startswith("inn: ИНН неверен")
    assert ("12 цифр" if legal_form == "ip" else "10 цифр") in body["detail"]
    assert _partners(net_a) == 0


@pytest.mark.parametrize(
    ("legal_form", "inn", "ogrn"),
    [
        ("ip", INN_IP, "304500116000158"),  # control digit wrong
        ("ip", INN_IP, OGRN),  # an ООО's 13 digits for an ИП
        ("ooo", INN_OOO, "1027700132196"),
        ("ooo", INN_OOO, OGRNIP),
    ],
)
def test_bad_ogrn_answers_422(owner_a, net_a, legal_form, inn, ogrn):
    response = post_json(
        owner_a.api(), URL, partner_body(legal_form=legal_form, inn=inn, ogrn=ogrn)
    )

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_ogrn"
    assert _partners(net_a) == 0


@pytest.mark.parametrize(
    ("legal_form", "inn", "ogrn"), [("ip", INN_IP, OGRNIP), ("ooo", INN_OOO, OGRN)]
)
def test_valid_ogrn_and_ogrnip_are_accepted(owner_a, legal_form, inn, ogrn):
    response = post_json(
        owner_a.api(), URL, partner_body(legal_form=legal_form, inn=inn, ogrn=ogrn)
    )

    assert response.status_code == 201, response.content
    assert response.json()["ogrn"] == ogrn


def test_registration_numbers_may_be_pasted_with_spaces(owner_a):
    response = post_json(owner_a.api(), URL, partner_body(inn="5001 0073 2259"))

    assert response.status_code == 201
    assert response.json()["inn"] == INN_IP


@pytest.mark.parametrize(
    "overrides",
    [
        {"legal_form": "zao"},
        {"tax_system": "usn"},
        {"vat": "vat18"},
        {"robokassa": {"hash_algorithm": "crc32"}},
        {"inn": 500100732259},
    ],
)
def test_unknown_enum_values_and_wrong_types_answer_422(owner_a, net_a, overrides):
    response = post_json(owner_a.api(), URL, partner_body(**overrides))

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert next(iter(overrides)) in body["detail"]
    assert _partners(net_a) == 0


def test_several_broken_fields_are_reported_together(owner_a):
    body = partner_body(name=" ", inn="1", robokassa={"merchant_login": ""})

    detail = post_json(owner_a.api(), URL, body).json()["detail"]

    for field in ("name:", "inn:", "robokassa.merchant_login:"):
        assert field in detail


def test_missing_shop_password_answers_422(owner_a, net_a):
    body = partner_body()
    del body["robokassa"]["password2"]

    response = post_json(owner_a.api(), URL, body)

    assert response.status_code == 422
    assert "robokassa.password2" in response.json()["detail"]
    assert _partners(net_a) == 0


def test_test_mode_needs_the_test_passwords(owner_a):
    body = partner_body(robokassa={"test_mode": True})
    del body["robokassa"]["test_password1"]

    response = post_json(owner_a.api(), URL, body)

    assert response.status_code == 422
    assert response.json()["code"] == "test_passwords_required"


def test_patch_checks_the_inn_against_the_new_legal_form(owner_a, net_a):
    pid = post_json(owner_a.api(), URL, partner_body()).json()["id"]

    refused = patch_json(owner_a.api(), f"{URL}/{pid}", {"legal_form": "ooo"})
    accepted = patch_json(owner_a.api(), f"{URL}/{pid}", {"legal_form": "ooo", "inn": INN_OOO})

    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid_inn"
    assert accepted.status_code == 200
    assert (accepted.json()["legal_form"], accepted.json()["inn"]) == ("ooo", INN_OOO)


def test_patch_with_explicit_null_is_refused(owner_a):
    pid = post_json(owner_a.api(), URL, partner_body()).json()["id"]

    response = patch_json(owner_a.api(), f"{URL}/{pid}", {"name": None})

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
