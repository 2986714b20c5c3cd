"""CONTRACT.md ("Coming with the open issues"): partners gain `"provider": "robokassa" |
"yookassa"` with a `"yookassa": {...}` block for YooKassa partners; Robokassa's shape stays."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.network.models import Partner
from tests.network.conftest import INN_IP, partner_body, patch_json, post_json

pytestmark = pytest.mark.django_db

URL = "/api/v1/partners"
SECRET = "test_SENTINEL-YK-block-51d0"


def _yookassa(**extra):
    return {
        "name": "ИП Петров",
        "legal_form": "ip",
        "inn": INN_IP,
        "tax_system": "usn_income",
        "yookassa": {"shop_id": "100777", "secret_key": SECRET},
        **extra,
    }


def test_a_yookassa_partner_is_created_from_the_yookassa_block(owner_a, net_a):
    response = post_json(owner_a.api(), URL, _yookassa(provider="yookassa"))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["provider"] == "yookassa"
    assert body["robokassa"] is None
    assert body["yookassa"]["shop_id"] == "100777"
    assert "secret_key" not in body["yookassa"]
    assert SECRET not in response.content.decode()
    with tenant_context(net_a.network):
        stored = Partner.objects.get(pk=body["id"]).provider_account
        assert (stored.provider, stored.merchant_login) == ("yookassa", "100777")
        assert stored.provider_secrets == {"secret_key": SECRET}


def test_a_robokassa_partner_says_its_provider_and_has_no_yookassa_block(owner_a):
    body = post_json(owner_a.api(), URL, partner_body()).json()

    assert body["provider"] == "robokassa"
    assert body["yookassa"] is None
    assert body["robokassa"]["merchant_login"] == "chq-kazan-1"
    listed = owner_a.api().get(URL).json()
    assert [p["provider"] for p in listed if p["id"] == body["id"]] == ["robokassa"]


def test_the_yookassa_block_is_checked_like_its_declaration(owner_a):
    bad_id = post_json(
        owner_a.api(), URL, _yookassa(yookassa={"shop_id": "x y", "secret_key": SECRET})
    )
    no_key = post_json(owner_a.api(), URL, _yookassa(yookassa={"shop_id": "100779"}))

    assert bad_id.status_code == 422
    assert bad_id.json()["code"] == "shop_id_bad_format"
    assert no_key.status_code == 422  # a required field of the block's schema
    assert set(no_key.json()) == {"detail", "code"}


def test_a_provider_that_names_another_block_is_a_conflict(owner_a):
    response = post_json(owner_a.api(), URL, _yookassa(provider="robokassa"))

    assert response.status_code == 422
    assert response.json()["code"] == "shop_conflict"
    assert set(response.json()) == {"detail", "code"}


def test_two_blocks_are_refused_and_nothing_is_written(owner_a, net_a):
    both = _yookassa() | {"robokassa": partner_body()["robokassa"]}
    response = post_json(owner_a.api(), URL, both)

    assert response.status_code == 422
    assert response.json()["code"] == "shop_required"
    with tenant_context(net_a.network):
        assert not Partner.objects.filter(name="ИП Петров").exists()


def test_a_get_echoed_back_as_a_patch_keeps_the_shop(owner_a, net_a):
    created = post_json(owner_a.api(), URL, _yookassa()).json()
    echoed = {k: v for k, v in created.items() if k not in {"id", "yookassa", "robokassa"}}
    echoed["name"] = "ИП Петров и сыновья"

    response = patch_json(owner_a.api(), f"{URL}/{created['id']}", echoed)

    assert response.status_code == 200, response.content
    assert response.json()["provider"] == "yookassa"
    assert response.json()["name"] == "ИП Петров и сыновья"
    with tenant_context(net_a.network):
        assert Partner.objects.get(pk=created["id"]).provider_account.provider_secrets == {
            "secret_key": SECRET
        }


def test_a_patch_moves_a_robokassa_shop_to_yookassa_by_its_block(owner_a, net_a):
    pid = post_json(owner_a.api(), URL, partner_body()).json()["id"]

    response = patch_json(
        owner_a.api(),
        f"{URL}/{pid}",
        {"provider": "yookassa", "yookassa": {"shop_id": "100778", "secret_key": SECRET}},
    )

    assert response.status_code == 200, response.content
    assert response.json()["provider"] == "yookassa"
    assert response.json()["robokassa"] is None
    assert response.json()["yookassa"]["shop_id"] == "100778"


def test_a_patch_naming_another_provider_without_its_block_is_refused(owner_a):
    pid = post_json(owner_a.api(), URL, partner_body()).json()["id"]

    response = patch_json(owner_a.api(), f"{URL}/{pid}", {"provider": "yookassa"})

    assert response.status_code == 422
    assert response.json()["code"] == "shop_required"
