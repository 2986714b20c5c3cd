"""Panel pages around the network's data: settings, API tokens, the audit log, a suspended network
and the English translation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.accounts.models import ApiToken
from franchise_platform.network.models import NetworkSettings, Partner
from tenants.models import Network

pytestmark = pytest.mark.django_db

SETTINGS_FORM = {
    "prepayment_mode": "fixed",
    "prepayment_value": "1000",
    "invoice_ttl_hours": "12",
    "item_name": "Игра",
}


def test_settings_form_saves_and_shows_rule_errors_beside_fields(owner_a, net_a):
    client = owner_a.browser_client()

    refused = client.post(
        "/panel/settings/",
        {**SETTINGS_FORM, "prepayment_mode": "percent", "prepayment_value": "100"},
    )
    saved = client.post("/panel/settings/", SETTINGS_FORM)

    assert "Процент предоплаты — больше 0 и меньше 100." in refused.content.decode()
    assert saved.status_code == 302
    with tenant_context(net_a.network):
        row = NetworkSettings.objects.get()
    assert (row.prepayment_mode, row.prepayment_value, row.invoice_ttl_hours) == (
        "fixed",
        Decimal("1000.00"),
        12,
    )


def test_token_value_is_shown_once_after_creation(owner_a, net_a):
    client = owner_a.browser_client()

    created = client.post("/panel/tokens/", {"name": "Выгрузка"})
    first = client.get("/panel/tokens/").content.decode()
    second = client.get("/panel/tokens/").content.decode()

    assert created.status_code == 302
    assert 'id="token-value"' in first
    assert 'id="token-value"' not in second
    raw = first.split('id="token-value"', 1)[1].split(">", 1)[1].split("<", 1)[0].strip()
    assert (
        net_a.anonymous().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    )


def test_token_revoke_stops_it(owner_a, net_a):
    client = owner_a.browser_client()
    with tenant_context(net_a.network):
        token = ApiToken.objects.get(user__email=owner_a.email)

    client.post(f"/panel/tokens/{token.pk}/revoke/")

    assert owner_a.api().get("/api/v1/me").status_code == 401


def test_admin_sees_only_own_tokens_and_cannot_revoke_the_owners(net_a):
    admin = net_a.admin.browser_client()
    with tenant_context(net_a.network):
        owners = ApiToken.objects.get(user__email=net_a.owner.email)

    page = admin.get("/panel/tokens/").content.decode()
    revoke = admin.post(f"/panel/tokens/{owners.pk}/revoke/")

    assert net_a.owner.email not in page
    assert revoke.status_code == 404
    assert net_a.owner.api().get("/api/v1/me").status_code == 200


def test_audit_page_names_actor_and_marks_secrets_as_changed(owner_a, partner_a):
    html = owner_a.browser_client().get("/panel/audit/").content.decode()

    assert "Добавлен партнёр" in html
    assert "изменён" in html
    assert "Пароль #1" in html


def test_suspended_network_shows_a_banner_and_refuses_posts(owner_a, net_a, partner_a):
    Network.objects.filter(pk=net_a.network.pk).update(status=Network.Status.SUSPENDED)
    client = owner_a.browser_client()

    home = client.get("/panel/")
    toggle = client.post(f"/panel/partners/{partner_a.pk}/toggle/")
    settings = client.post("/panel/settings/", SETTINGS_FORM)
    new_form = client.get("/panel/partners/new/")

    assert "Сеть приостановлена" in home.content.decode()
    assert "/panel/partners/new/" not in home.content.decode()
    assert (toggle.status_code, settings.status_code, new_form.status_code) == (403, 403, 403)
    with tenant_context(net_a.network):
        assert Partner.objects.get().active is True


def test_english_when_the_language_cookie_says_so(owner_a):
    client = owner_a.browser_client()

    client.post("/panel/language/", {"language": "en", "next": "/panel/"})
    html = client.get("/panel/partners/").content.decode()

    assert "Partners" in html and "Add partner" in html
    assert "Партнёры" not in html
