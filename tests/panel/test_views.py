"""The panel's pages through Django's test client: who may see and change what, and that the forms
speak the services' rules beside the fields."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.accounts.models import ApiToken
from franchise_platform.network.models import Location, NetworkSettings, Partner
from franchise_platform.security.models import AuditEntry
from tests.network.conftest import INN_IP, INN_OOO, make_partner

pytestmark = pytest.mark.django_db

READ_PAGES = [
    "/panel/",
    "/panel/partners/",
    "/panel/locations/",
    "/panel/settings/",
    "/panel/audit/",
]
# The security page is not one of them: every role turns the second factor on for itself
# (tests/accounts/test_totp.py).
EDIT_PAGES = ["/panel/partners/new/", "/panel/locations/new/", "/panel/tokens/"]
PARTNER_FORM = {
    "legal_form": "ip",
    "name": "ИП Петров Пётр Петрович",
    "inn": INN_IP,
    "tax_system": "usn_income",
    "vat": "none",
    "merchant_login": "petrov-shop",
    "password1": "pw-one-123",
    "password2": "pw-two-456",
    "hash_algorithm": "md5",
}
SETTINGS_FORM = {
    "prepayment_mode": "fixed",
    "prepayment_value": "1000",
    "invoice_ttl_hours": "12",
    "item_name": "Игра",
}


def _count(net, model) -> int:
    with tenant_context(net.network):
        return model.objects.count()


@pytest.mark.parametrize("url", READ_PAGES + EDIT_PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(net_a, url):
    response = net_a.anonymous().get(url)

    assert response.status_code == 302
    assert response["Location"] == f"/panel/login/?next={url}"


def test_network_root_leads_to_the_panel(net_a):
    response = net_a.anonymous().get("/")

    assert (response.status_code, response["Location"]) == (302, "/panel/")


@pytest.mark.parametrize("url", READ_PAGES)
def test_viewer_reads_every_list_without_edit_controls(viewer_a, partner_a, url):
    response = viewer_a.browser_client().get(url)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-role="edit"' not in html
    assert "/panel/partners/new/" not in html
    assert "только просмотр" in html


@pytest.mark.parametrize("url", EDIT_PAGES)
def test_viewer_cannot_open_edit_pages(viewer_a, url):
    response = viewer_a.browser_client().get(url)

    assert response.status_code == 403
    assert "Нет доступа" in response.content.decode()


def test_every_viewer_post_is_403_and_changes_nothing(viewer_a, net_a, partner_a):
    with tenant_context(net_a.network):
        location = Location.objects.get()
    client = viewer_a.browser_client()
    posts = {
        "/panel/partners/new/": PARTNER_FORM,
        f"/panel/partners/{partner_a.pk}/edit/": PARTNER_FORM,
        f"/panel/partners/{partner_a.pk}/toggle/": {},
        f"/panel/partners/{partner_a.pk}/delete/": {},
        "/panel/locations/new/": {"name": "Новая", "partner": partner_a.pk},
        f"/panel/locations/{location.pk}/edit/": {"name": "Другая", "partner": partner_a.pk},
        f"/panel/locations/{location.pk}/toggle/": {},
        f"/panel/locations/{location.pk}/delete/": {},
        "/panel/settings/": SETTINGS_FORM,
        "/panel/tokens/": {"name": "Мой"},
    }

    answers = {url: client.post(url, data).status_code for url, data in posts.items()}

    assert set(answers.values()) == {403}, answers
    with tenant_context(net_a.network):
        assert list(Partner.objects.values_list("name", "active")) == [("ООО «Альфа-Квест»", True)]
        assert list(Location.objects.values_list("name", "active")) == [("Квест «Альфа»", True)]
        assert not NetworkSettings.objects.filter(prepayment_mode="fixed").exists()
        assert ApiToken.objects.filter(name="Мой").count() == 0


def test_owner_adds_a_partner_with_five_typed_fields(owner_a, net_a):
    response = owner_a.browser_client().post("/panel/partners/new/", PARTNER_FORM)

    with tenant_context(net_a.network):
        partner = Partner.objects.get()
        shop = partner.provider_account
        assert (shop.password1, shop.hash_algorithm, shop.test_mode) == ("pw-one-123", "md5", False)
    assert response.status_code == 302
    assert response["Location"] == f"/panel/partners/{partner.pk}/"


def test_a_wrong_inn_is_shown_beside_its_field_and_nothing_is_saved(owner_a, net_a):
    response = owner_a.browser_client().post(
        "/panel/partners/new/", {**PARTNER_FORM, "inn": "500100732258"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="field-inn"' in html
    assert "ИНН неверен: для ИП нужно 12 цифр" in html
    assert "Ничего не сохранено" in html
    assert "pw-one-123" not in html
    assert _count(net_a, Partner) == 0


def test_missing_passwords_on_a_new_partner_are_reported(owner_a, net_a):
    form = {k: v for k, v in PARTNER_FORM.items() if not k.startswith("password")}

    response = owner_a.browser_client().post("/panel/partners/new/", form)

    assert response.status_code == 200
    assert response.content.decode().count('class="field-error"') >= 2
    assert _count(net_a, Partner) == 0


def test_editing_with_empty_passwords_keeps_the_stored_ones(owner_a, net_a, partner_a):
    form = {**PARTNER_FORM, "legal_form": "ooo", "inn": INN_OOO, "password1": "", "password2": ""}

    response = owner_a.browser_client().post(f"/panel/partners/{partner_a.pk}/edit/", form)

    assert response.status_code == 302
    with tenant_context(net_a.network):
        partner = Partner.objects.get()
        assert partner.name == "ИП Петров Пётр Петрович"
        assert (partner.provider_account.password1, partner.provider_account.password2) == (
            "a",
            "b",
        )


def test_inn_hint_answers_while_typing(owner_a):
    client = owner_a.browser_client()

    bad = client.get("/panel/partners/check-inn/", {"inn": "500100732258", "legal_form": "ip"})
    good = client.get("/panel/partners/check-inn/", {"inn": INN_OOO, "legal_form": "ooo"})

    assert "ИНН неверен" in bad.content.decode()
    assert "ИНН верен" in good.content.decode()


def test_partner_page_shows_the_three_robokassa_addresses_with_instructions(
    owner_a, net_a, partner_a
):
    html = owner_a.browser_client().get(f"/panel/partners/{partner_a.pk}/").content.decode()

    base = f"http://{net_a.host}:8000/callbacks/robokassa/{partner_a.pk}"
    for suffix in ("result/", "success/", "fail/"):
        assert f"{base}/{suffix}" in html
    assert html.count("data-copy=") == 3
    assert "Технические настройки" in html and "метод POST" in html and "MD5" in html


def test_deactivate_and_refused_delete_from_the_partner_page(owner_a, net_a, partner_a):
    client = owner_a.browser_client()

    client.post(f"/panel/partners/{partner_a.pk}/toggle/")
    refused = client.post(f"/panel/partners/{partner_a.pk}/delete/", follow=True)

    assert "У партнёра есть локации" in refused.content.decode()
    with tenant_context(net_a.network):
        assert Partner.objects.get().active is False


def test_location_is_added_and_moved_to_another_partner(owner_a, net_a, partner_a):
    other = make_partner(net_a.network, name="ООО «Второй»")
    client = owner_a.browser_client()

    added = client.post(
        "/panel/locations/new/",
        {"name": "Квест «Шерлок»", "partner": partner_a.pk, "then": "partner"},
    )
    with tenant_context(net_a.network):
        location = Location.objects.get(name="Квест «Шерлок»")
    moved = client.post(
        f"/panel/locations/{location.pk}/edit/", {"name": "Квест «Шерлок»", "partner": other.pk}
    )

    assert added["Location"] == f"/panel/partners/{partner_a.pk}/"
    assert moved.status_code == 302
    with tenant_context(net_a.network):
        assert Location.objects.get(pk=location.pk).partner_id == other.pk
        assert AuditEntry.objects.filter(action="location.update").get().changes["partner"] == [
            "ООО «Альфа-Квест»",
            "ООО «Второй»",
        ]


def test_new_location_form_preselects_the_partner(owner_a, partner_a):
    html = (
        owner_a.browser_client()
        .get(f"/panel/locations/new/?partner={partner_a.pk}")
        .content.decode()
    )

    assert f'<option value="{partner_a.pk}" selected>' in html
