"""The owner chooses the provider per partner in the panel (issue 16, item 5): the form offers
Robokassa and every provider that declares its fields (YooKassa: shop id and secret key), a
YooKassa partner's page shows its notification address, and the old Robokassa form is unchanged."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.network.models import Partner
from franchise_platform.security.models import AuditEntry
from tests.network.conftest import INN_IP

pytestmark = pytest.mark.django_db

SECRET = "live_SENTINEL-panel-9e2d77"
FORM = {
    "legal_form": "ip",
    "name": "ИП Сидоров",
    "inn": INN_IP,
    "tax_system": "usn_income",
    "vat": "none",
    "provider": "yookassa",
    "yookassa__shop_id": "123456",
    "yookassa__secret_key": SECRET,
}


def test_the_form_offers_yookassas_declared_fields(owner_a):
    html = owner_a.browser_client().get("/panel/partners/new/").content.decode()
    assert 'value="yookassa"' in html
    assert 'name="yookassa__shop_id"' in html
    assert 'name="yookassa__secret_key"' in html and 'type="password"' in html
    assert "Идентификатор магазина (shopId)" in html


def test_a_yookassa_partner_is_added_and_shows_its_notification_address(owner_a, net_a):
    client = owner_a.browser_client()
    response = client.post("/panel/partners/new/", FORM)

    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_context(net_a.network):
        partner = Partner.objects.get(name="ИП Сидоров")
        account = partner.provider_account
        assert (account.provider, account.merchant_login) == ("yookassa", "123456")
        assert account.provider_secrets == {"secret_key": SECRET}
        entry = AuditEntry.objects.filter(action="partner.create").latest("created_at")
        assert SECRET not in str(entry.changes)
    page = client.get(f"/panel/partners/{partner.pk}/").content.decode()
    assert f"/callbacks/yookassa/{partner.pk}/notification/" in page
    assert "Адреса для Robokassa" not in page
    edit = client.get(f"/panel/partners/{partner.pk}/edit/").content.decode()
    assert SECRET not in edit
    assert 'value="123456"' in edit


def test_a_bad_shop_id_is_shown_beside_its_field(owner_a, net_a):
    response = owner_a.browser_client().post(
        "/panel/partners/new/", FORM | {"yookassa__shop_id": "abc"}
    )

    assert response.status_code == 200
    assert "заполнено неверно" in response.content.decode()
    with tenant_context(net_a.network):
        assert not Partner.objects.filter(name="ИП Сидоров").exists()


def test_the_audit_page_reads_yookassas_declared_labels(owner_a):
    client = owner_a.browser_client()
    assert client.post("/panel/partners/new/", FORM).status_code == 302

    html = client.get("/panel/audit/").content.decode()

    assert "Идентификатор магазина (shopId)" in html
    assert "Секретный ключ" in html
    assert "Платёжный провайдер" in html
    assert "yookassa.secret_key" not in html
    assert SECRET not in html
