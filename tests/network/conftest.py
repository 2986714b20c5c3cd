"""Helpers for the network API tests: valid registration numbers and a partner body per CONTRACT.md."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.network.models import Partner
from franchise_platform.network.services import location_create, partner_create

# Valid by their control digits (CONTRACT.md's example ИП; Sberbank's ООО).
INN_IP = "500100732259"
INN_OOO = "7707083893"
OGRNIP = "304500116000157"
OGRN = "1027700132195"
# Sentinels: if one of these ever shows up in a response, a log line or the audit table, it leaked.
SECRETS = {
    "password1": "SENTINEL-PW1-4f0c2a",
    "password2": "SENTINEL-PW2-9b7e11",
    "test_password1": "SENTINEL-TPW1-55aa03",
    "test_password2": "SENTINEL-TPW2-c3d9e8",
    "password3": "SENTINEL-PW3-71be40",
}

PARTNER_BODY: dict[str, Any] = {
    "name": "ИП Иванов Иван Иванович",
    "legal_form": "ip",
    "inn": INN_IP,
    "tax_system": "usn_income",
    "vat": "none",
    "robokassa": {
        "merchant_login": "chq-kazan-1",
        **SECRETS,
        "hash_algorithm": "md5",
        "test_mode": False,
        "fiscalization": True,
    },
}


def partner_body(**overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(PARTNER_BODY)
    shop = overrides.pop("robokassa", None)
    body.update(overrides)
    if shop is not None:
        body["robokassa"].update(shop)
    return body


def post_json(client, url: str, body: Any):
    return client.post(url, body, content_type="application/json")


def patch_json(client, url: str, body: Any):
    return client.patch(url, body, content_type="application/json")


def put_json(client, url: str, body: Any):
    return client.put(url, body, content_type="application/json")


def make_partner(
    network, *, name: str = "ООО «Квест»", with_location: str | None = None
) -> Partner:
    """A partner (and optionally a location) written straight through the services."""
    with tenant_context(network):
        partner = partner_create(
            actor="test",
            name=name,
            legal_form="ooo",
            inn=INN_OOO,
            tax_system="osn",
            shop={"merchant_login": "shop-" + name[-3:], "password1": "a", "password2": "b"},
        )
        if with_location:
            location_create(actor="test", name=with_location, partner=partner)
    return partner


@pytest.fixture
def partner_a(net_a) -> Partner:
    return make_partner(net_a.network, name="ООО «Альфа-Квест»", with_location="Квест «Альфа»")
