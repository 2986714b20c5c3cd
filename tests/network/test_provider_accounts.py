"""The owner chooses the provider per partner in the API (issue 16, item 5): a YooKassa shop from
its declared fields (shop id + secret key, sealed like Robokassa's passwords), Robokassa's block
unchanged, a move between providers, the declared fields listed at GET /api/v1/providers."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.network.models import Partner
from franchise_platform.security.models import AuditEntry
from tests.network.conftest import INN_IP, SECRETS, partner_body, patch_json, post_json

pytestmark = pytest.mark.django_db

URL = "/api/v1/partners"
SECRET = "test_SENTINEL-YK-7c1f2e90ab"


def _yookassa_body(**values):
    return {
        "name": "ИП Петров",
        "legal_form": "ip",
        "inn": INN_IP,
        "tax_system": "usn_income",
        "provider_account": {
            "provider": "yookassa",
            "values": {"shop_id": "100500", "secret_key": SECRET, **values},
            "fiscalization": False,
        },
    }


def test_a_yookassa_partner_is_created_with_its_notification_address(owner_a, net_a):
    response = post_json(owner_a.api(), URL, _yookassa_body())

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["robokassa"] is None
    account = body["provider_account"]
    assert account["provider"] == "yookassa" and account["login"] == "100500"
    assert account["secrets_set"] == ["secret_key"]
    (address,) = account["addresses"]
    assert address["url"] == (
        f"http://{net_a.host}:8000/callbacks/yookassa/{body['id']}/notification/"
    )
    assert SECRET not in response.content.decode()
    with tenant_context(net_a.network):
        stored = Partner.objects.get(pk=body["id"]).provider_account
        assert stored.provider == "yookassa"
        assert stored.provider_secrets == {"secret_key": SECRET}
        entry = AuditEntry.objects.filter(action="partner.create").latest("created_at")
        assert SECRET not in str(entry.changes)
        assert "yookassa.secret_key" in entry.changes


def test_yookassa_fields_are_checked_against_the_declaration(owner_a):
    response = post_json(owner_a.api(), URL, _yookassa_body(shop_id="not-digits", secret_key=""))

    assert response.status_code == 422
    assert response.json()["code"] == "shop_id_bad_format"


def test_neither_or_both_shop_blocks_are_refused(owner_a):
    both = _yookassa_body() | {"robokassa": partner_body()["robokassa"]}
    neither = {k: v for k, v in _yookassa_body().items() if k != "provider_account"}
    assert post_json(owner_a.api(), URL, both).json()["code"] == "shop_required"
    assert post_json(owner_a.api(), URL, neither).json()["code"] == "shop_required"


def test_robokassas_block_still_creates_a_robokassa_shop(owner_a):
    response = post_json(owner_a.api(), URL, partner_body())
    assert response.status_code == 201
    assert response.json()["robokassa"]["merchant_login"] == "chq-kazan-1"
    assert response.json()["provider_account"]["provider"] == "robokassa"


def test_a_patch_keeps_the_secret_and_a_move_to_robokassa_and_back_works(owner_a, net_a):
    pid = post_json(owner_a.api(), URL, _yookassa_body()).json()["id"]

    kept = patch_json(
        owner_a.api(),
        f"{URL}/{pid}",
        {"provider_account": {"provider": "yookassa", "values": {}, "test_mode": True}},
    )
    assert kept.status_code == 200, kept.content
    assert kept.json()["provider_account"]["test_mode"] is True
    with tenant_context(net_a.network):
        assert Partner.objects.get(pk=pid).provider_account.provider_secrets == {
            "secret_key": SECRET
        }

    moved = patch_json(owner_a.api(), f"{URL}/{pid}", {"robokassa": partner_body()["robokassa"]})
    assert moved.status_code == 200, moved.content
    assert moved.json()["robokassa"]["merchant_login"] == "chq-kazan-1"
    with tenant_context(net_a.network):
        account = Partner.objects.get(pk=pid).provider_account
        assert account.provider == "robokassa" and not account.provider_secrets
        assert account.password2 == SECRETS["password2"]

    back = patch_json(owner_a.api(), f"{URL}/{pid}", {"provider_account": {"provider": "yookassa"}})
    assert back.status_code == 422  # a move needs the new provider's secret again
    assert back.json()["code"] == "shop_id_required"


def test_providers_list_their_declared_fields(owner_a):
    response = owner_a.api().get("/api/v1/providers")

    assert response.status_code == 200
    providers = {p["slug"]: p for p in response.json()}
    assert providers["yookassa"]["label"] == "ЮKassa"
    assert providers["yookassa"]["connects_by_oauth"] is True
    names = [f["name"] for f in providers["yookassa"]["fields"]]
    assert names[:2] == ["shop_id", "secret_key"]
    assert {f["name"]: f["secret"] for f in providers["yookassa"]["fields"]}["secret_key"]
