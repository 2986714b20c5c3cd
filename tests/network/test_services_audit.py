"""Every network service leaves an audit entry naming the actor; shop passwords appear only as
changed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.network import services
from franchise_platform.security.audit import SECRET_MARK
from franchise_platform.security.models import AuditEntry
from tests.network.conftest import INN_IP, INN_OOO

pytestmark = pytest.mark.django_db

WHO = {"actor": "owner@example.com", "ip_address": "192.0.2.7"}


def test_each_write_is_audited_with_its_actor(net_a):
    with tenant_context(net_a.network):
        partner = services.partner_create(
            **WHO,
            name="ИП Иванов",
            legal_form="ip",
            inn=INN_IP,
            tax_system="usn_income",
            shop={"merchant_login": "shop", "password1": "secret-1", "password2": "secret-2"},
        )
        services.partner_update(
            **WHO, partner=partner, changes={"vat": "vat22"}, shop={"password1": "secret-3"}
        )
        other = services.partner_create(
            **WHO,
            name="ООО «Второй»",
            legal_form="ooo",
            inn=INN_OOO,
            tax_system="osn",
            shop={"merchant_login": "shop2", "password1": "x", "password2": "y"},
        )
        location = services.location_create(**WHO, name="Квест", partner=partner)
        services.location_update(**WHO, location=location, changes={"partner": other})
        services.location_delete(**WHO, location=location)
        services.partner_delete(**WHO, partner=other)
        services.network_settings_update(
            **WHO,
            prepayment_mode="fixed",
            prepayment_value=Decimal("1500"),
            invoice_ttl_hours=12,
            item_name="Квест «{location}»",
        )
        entries = list(AuditEntry.objects.order_by("id"))

    assert [e.action for e in entries] == [
        "partner.create",
        "partner.update",
        "partner.create",
        "location.create",
        "location.update",
        "location.delete",
        "partner.delete",
        "settings.update",
    ]
    assert {(e.actor, e.ip_address) for e in entries} == {("owner@example.com", "192.0.2.7")}
    created, updated = entries[0].changes, entries[1].changes
    assert created["robokassa.password1"] == created["robokassa.password2"] == SECRET_MARK
    assert created["inn"] == [None, INN_IP]
    assert updated == {"vat": ["none", "vat22"], "robokassa.password1": SECRET_MARK}
    assert entries[4].changes == {"partner": ["ИП Иванов", "ООО «Второй»"]}
    assert entries[7].changes["prepayment_value"] == ["30.00", "1500.00"]
    everything = " ".join(str(e.changes) for e in entries)
    for secret in ("secret-1", "secret-2", "secret-3"):
        assert secret not in everything


def test_a_write_that_changes_nothing_leaves_no_entry(net_a):
    with tenant_context(net_a.network):
        partner = services.partner_create(
            **WHO,
            name="ИП Иванов",
            legal_form="ip",
            inn=INN_IP,
            tax_system="usn_income",
            shop={"merchant_login": "shop", "password1": "a", "password2": "b"},
        )
        services.partner_update(
            **WHO, partner=partner, changes={"name": "ИП Иванов"}, shop={"password1": "a"}
        )
        assert AuditEntry.objects.filter(action="partner.update").count() == 0
