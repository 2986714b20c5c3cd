"""/api/v1/partners exactly as CONTRACT.md says: create, list, get, patch, delete, and every refusal."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from franchise_platform.network.models import Location, Partner, ProviderAccount
from franchise_platform.payments.models import Deal, LinkStatus, PaymentLink
from franchise_platform.security.models import AuditEntry
from tenants.models import Network
from tests.network.conftest import (
    INN_IP,
    SECRETS,
    partner_body,
    patch_json,
    post_json,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/partners"


def _partners(net) -> int:
    with tenant_context(net.network):
        return Partner.objects.count()


def test_create_answers_201_with_the_robokassa_addresses_and_no_password(owner_a, net_a):
    response = post_json(owner_a.api(), URL, partner_body())

    assert response.status_code == 201, response.content
    body = response.json()
    pid = body["id"]
    assert {
        k: body[k] for k in ("name", "legal_form", "inn", "ogrn", "tax_system", "vat", "active")
    } == {
        "name": "ИП Иванов Иван Иванович",
        "legal_form": "ip",
        "inn": INN_IP,
        "ogrn": "",
        "tax_system": "usn_income",
        "vat": "none",
        "active": True,
    }
    base = f"http://{net_a.host}:8000/callbacks/robokassa/{pid}"
    assert body["robokassa"] == {
        "merchant_login": "chq-kazan-1",
        "hash_algorithm": "md5",
        "test_mode": False,
        "fiscalization": True,
        "invoice_number_start": 1_000_000_000,
        "refunds_enabled": True,
        "result_url": f"{base}/result/",
        "success_url": f"{base}/success/",
        "fail_url": f"{base}/fail/",
    }
    assert "password" not in response.content.decode()


def test_created_shop_passwords_are_stored_encrypted_and_decrypt_back(owner_a, net_a):
    pid = post_json(owner_a.api(), URL, partner_body()).json()["id"]

    with tenant_context(net_a.network):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT password1, password2, test_password1, test_password2 FROM network_provideraccount"
                " WHERE partner_id = %s",
                [pid],
            )
            raw_columns = " ".join(cursor.fetchone())
        account = ProviderAccount.objects.get(partner_id=pid)
        assert account.password1 == SECRETS["password1"]
        assert account.test_password2 == SECRETS["test_password2"]
    for secret in SECRETS.values():
        assert secret not in raw_columns


def test_defaults_keep_the_form_minimal(owner_a):
    """Only the contract's required fields: md5, not test mode, no fiscalization, no VAT."""
    body = partner_body()
    del body["vat"]
    body["robokassa"] = {"merchant_login": "shop-2", "password1": "a", "password2": "b"}

    response = post_json(owner_a.api(), URL, body)

    assert response.status_code == 201, response.content
    assert response.json()["vat"] == "none"
    assert {
        k: response.json()["robokassa"][k] for k in ("hash_algorithm", "test_mode", "fiscalization")
    } == {
        "hash_algorithm": "md5",
        "test_mode": False,
        "fiscalization": False,
    }


def test_list_and_get_return_the_same_partner(owner_a):
    created = post_json(owner_a.api(), URL, partner_body()).json()

    listed = owner_a.api().get(URL)
    fetched = owner_a.api().get(f"{URL}/{created['id']}")

    assert listed.status_code == 200
    assert [p["id"] for p in listed.json()] == [created["id"]]
    assert fetched.status_code == 200
    assert fetched.json() == created == listed.json()[0]


def test_viewer_reads_but_every_write_is_403_and_changes_nothing(owner_a, viewer_a, net_a):
    pid = post_json(owner_a.api(), URL, partner_body()).json()["id"]
    viewer = viewer_a.api()

    assert viewer.get(URL).status_code == 200
    assert viewer.get(f"{URL}/{pid}").status_code == 200
    for response in (
        post_json(viewer, URL, partner_body(name="ИП Другой")),
        patch_json(viewer, f"{URL}/{pid}", {"name": "Взломано"}),
        viewer.delete(f"{URL}/{pid}"),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"
    with tenant_context(net_a.network):
        assert list(Partner.objects.values_list("name", flat=True)) == ["ИП Иванов Иван Иванович"]


def test_admin_may_write(net_a):
    assert post_json(net_a.admin.api(), URL, partner_body()).status_code == 201


def test_patch_changes_only_the_given_fields_and_keeps_the_passwords(owner_a, net_a):
    pid = post_json(owner_a.api(), URL, partner_body()).json()["id"]

    response = patch_json(
        owner_a.api(), f"{URL}/{pid}", {"vat": "vat22", "robokassa": {"test_mode": True}}
    )

    assert response.status_code == 200, response.content
    assert response.json()["vat"] == "vat22"
    assert response.json()["robokassa"]["test_mode"] is True
    assert response.json()["name"] == "ИП Иванов Иван Иванович"
    with tenant_context(net_a.network):
        account = ProviderAccount.objects.get(partner_id=pid)
        assert (account.password1, account.password2) == (
            SECRETS["password1"],
            SECRETS["password2"],
        )


def test_patch_replaces_a_password_and_audits_it_as_changed(owner_a, net_a):
    pid = post_json(owner_a.api(), URL, partner_body()).json()["id"]

    response = patch_json(
        owner_a.api(), f"{URL}/{pid}", {"robokassa": {"password2": "NEW-PW2-0001"}}
    )

    assert response.status_code == 200
    with tenant_context(net_a.network):
        assert ProviderAccount.objects.get(partner_id=pid).password2 == "NEW-PW2-0001"
        entry = AuditEntry.objects.filter(action="partner.update").get()
    assert entry.changes == {"robokassa.password2": "••• изменён"}
    assert entry.actor == f"{owner_a.email} (API)"


def test_delete_is_refused_while_the_partner_has_locations_and_deactivation_works(owner_a, net_a):
    client = owner_a.api()
    pid = post_json(client, URL, partner_body()).json()["id"]
    post_json(client, "/api/v1/locations", {"name": "Квест «Шерлок»", "partner_id": pid})

    refused = client.delete(f"{URL}/{pid}")
    deactivated = patch_json(client, f"{URL}/{pid}", {"active": False})

    assert refused.status_code == 409
    assert refused.json()["code"] == "partner_has_locations"
    assert deactivated.status_code == 200
    assert deactivated.json()["active"] is False
    with tenant_context(net_a.network):
        assert Partner.objects.filter(pk=pid).exists()
        assert Location.objects.filter(partner_id=pid).exists()


def test_delete_is_refused_while_the_partner_has_unpaid_links(owner_a, net_a):
    pid = post_json(owner_a.api(), URL, partner_body()).json()["id"]
    with tenant_context(net_a.network):
        deal = Deal.objects.create(crm_deal_id=7001, total="5000.00", partner_id=pid)
        PaymentLink.objects.create(deal=deal, kind="full", amount="5000.00")

    response = owner_a.api().delete(f"{URL}/{pid}")

    assert response.status_code == 409
    assert response.json()["code"] == "partner_has_unpaid_links"
    assert _partners(net_a) == 1


def test_delete_is_refused_while_deals_remember_the_partner(owner_a, net_a):
    pid = post_json(owner_a.api(), URL, partner_body()).json()["id"]
    with tenant_context(net_a.network):
        deal = Deal.objects.create(crm_deal_id=7002, total="5000.00", partner_id=pid)
        PaymentLink.objects.create(deal=deal, kind="full", amount="5000.00", status=LinkStatus.PAID)

    response = owner_a.api().delete(f"{URL}/{pid}")

    assert response.status_code == 409
    assert response.json()["code"] == "partner_has_history"
    assert _partners(net_a) == 1


def test_delete_of_a_bare_partner_answers_204_and_is_audited(owner_a, net_a):
    pid = post_json(owner_a.api(), URL, partner_body()).json()["id"]

    response = owner_a.api().delete(f"{URL}/{pid}")

    assert response.status_code == 204
    assert owner_a.api().get(f"{URL}/{pid}").status_code == 404
    with tenant_context(net_a.network):
        assert not ProviderAccount.objects.filter(partner_id=pid).exists()
        assert AuditEntry.objects.filter(action="partner.delete").count() == 1


def test_unknown_or_malformed_ids(owner_a):
    missing = owner_a.api().get(f"{URL}/00000000-0000-0000-0000-000000000000")
    malformed = owner_a.api().get(f"{URL}/not-a-uuid")

    assert (missing.status_code, missing.json()) == (
        404,
        {"detail": "Партнёр не найден.", "code": "not_found"},
    )
    assert malformed.status_code == 422


def test_without_a_valid_token_the_answer_is_401(net_a):
    anonymous = net_a.anonymous().get(URL)
    wrong = net_a.anonymous().get(URL, HTTP_AUTHORIZATION="Bearer fp_not-a-token")

    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthorized")
    assert wrong.status_code == 401


def test_a_suspended_network_refuses_writes_but_answers_reads(owner_a, net_a):
    Network.objects.filter(pk=net_a.network.pk).update(status=Network.Status.SUSPENDED)

    write = post_json(owner_a.api(), URL, partner_body())
    read = owner_a.api().get(URL)

    assert (write.status_code, write.json()["code"]) == (403, "network_suspended")
    assert read.status_code == 200
    assert _partners(net_a) == 0
