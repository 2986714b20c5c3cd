"""Password #3 (Robokassa's Refund API): an optional shop password, sealed like the others,
entered through the API or the partner form, never returned (only whether it is set)."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from franchise_platform.network.models import ProviderAccount
from tests.network.conftest import SECRETS, partner_body, patch_json, post_json

pytestmark = pytest.mark.django_db
URL = "/api/v1/partners"


def _raw_password3(partner_id: str) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT password3 FROM network_provideraccount WHERE partner_id = %s", [partner_id]
        )
        return cursor.fetchone()[0]


def test_password3_is_sealed_and_only_its_presence_is_shown(owner_a, net_a):
    created = post_json(owner_a.api(), URL, partner_body())

    assert created.status_code == 201, created.content
    assert created.json()["robokassa"]["refunds_enabled"] is True
    assert SECRETS["password3"] not in created.content.decode()
    with tenant_context(net_a.network):
        raw = _raw_password3(created.json()["id"])
        assert raw.startswith("fpenc:") and SECRETS["password3"] not in raw
        account = ProviderAccount.objects.get(partner_id=created.json()["id"])
        assert account.password3 == SECRETS["password3"]


def test_password3_is_optional_and_can_be_added_later(owner_a, net_a):
    body = partner_body()
    del body["robokassa"]["password3"]
    created = post_json(owner_a.api(), URL, body)
    assert created.status_code == 201, created.content
    assert created.json()["robokassa"]["refunds_enabled"] is False

    pid = created.json()["id"]
    patched = patch_json(owner_a.api(), f"{URL}/{pid}", {"robokassa": {"password3": "PW3-later"}})

    assert patched.status_code == 200, patched.content
    assert patched.json()["robokassa"]["refunds_enabled"] is True
    with tenant_context(net_a.network):
        assert ProviderAccount.objects.get(partner_id=pid).password3 == "PW3-later"


def test_the_partner_form_takes_password3_and_an_empty_field_keeps_it(owner_a, net_a):
    pid = post_json(owner_a.api(), URL, partner_body()).json()["id"]
    panel = owner_a.browser_client()

    page = panel.get(f"/panel/partners/{pid}/edit/")
    assert 'name="password3"' in page.content.decode()
    assert SECRETS["password3"] not in page.content.decode()
