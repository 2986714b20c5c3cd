"""A provider declared only in billing_providers/ (issue 16, item 2): a test-only adapter that
declares its account fields, registered in the registry for one test, gets the API's schema and
checks, the panel's form section and the audit page's labels, with no core change; and
Robokassa's block, built from its declaration, keeps its contract's shape."""

from __future__ import annotations

from typing import ClassVar

import pytest
from django.utils import translation
from django_tenants.utils import tenant_context

from billing_providers import registry
from billing_providers.base import AccountField, CabinetAddress
from billing_providers.dummy.provider import DummyProvider
from franchise_platform.network.models import Partner
from franchise_platform.network.schemas import PartnerIn
from franchise_platform.security.models import AuditEntry
from tests.network.conftest import INN_IP, post_json

pytestmark = pytest.mark.django_db

SECRET = "SENTINEL-acme-4f1d"


class AcmePayProvider(DummyProvider):
    """Dummy's behaviour under another slug, with a declaration of its own."""

    slug: ClassVar[str] = "acmepay"
    account_fields: ClassVar[tuple[AccountField, ...]] = (
        AccountField(
            name="terminal",
            target="login",
            label_ru="Номер терминала",
            label_en="Terminal number",
            help_ru="Из договора с AcmePay.",
            help_en="From the AcmePay contract.",
            required=True,
            modes=("keys",),
            pattern=r"T[0-9]{4}",
            max_length=5,
        ),
        AccountField(
            name="api_token",
            target="secret",
            label_ru="Токен API",
            label_en="API token",
            help_ru="Кабинет AcmePay → API.",
            help_en="AcmePay cabinet → API.",
            required=True,
            modes=("keys",),
        ),
        AccountField(
            name="test_mode",
            target="flag",
            label_ru="Песочница AcmePay",
            label_en="AcmePay sandbox",
            help_ru="Платежи без денег.",
            help_en="Payments without money.",
            required=False,
            modes=("keys",),
        ),
    )
    cabinet_addresses: ClassVar[tuple[CabinetAddress, ...]] = (
        CabinetAddress(
            "hook",
            "/callbacks/acmepay/{partner_id}/notification/",
            "Адрес уведомлений AcmePay",
            "AcmePay notification address",
            "Вставьте в кабинет AcmePay.",
            "Paste into the AcmePay cabinet.",
            ("keys",),
            method="POST",
        ),
    )


@pytest.fixture
def acmepay(monkeypatch):
    monkeypatch.setitem(registry.PROVIDERS, "acmepay", f"{__name__}.AcmePayProvider")
    return "acmepay"


def _body(**values):
    return {
        "name": "ИП Акмеев",
        "legal_form": "ip",
        "inn": INN_IP,
        "tax_system": "usn_income",
        "provider_account": {
            "provider": "acmepay",
            "values": {"terminal": "T1234", "api_token": SECRET, **values},
            "test_mode": True,
        },
    }


def test_a_declared_provider_gets_its_api_fields_checks_and_addresses(owner_a, net_a, acmepay):
    listed = {p["slug"]: p for p in owner_a.api().get("/api/v1/providers").json()}
    assert [f["name"] for f in listed["acmepay"]["fields"]] == [
        "terminal",
        "api_token",
        "test_mode",
    ]

    refused = post_json(owner_a.api(), "/api/v1/partners", _body(terminal="X1"))
    assert refused.status_code == 422
    assert refused.json()["code"] == "terminal_bad_format"
    assert "Номер терминала" in refused.json()["detail"]

    response = post_json(owner_a.api(), "/api/v1/partners", _body())
    assert response.status_code == 201, response.content
    account = response.json()["provider_account"]
    assert (account["provider"], account["login"], account["test_mode"]) == (
        "acmepay",
        "T1234",
        True,
    )
    assert account["secrets_set"] == ["api_token"]
    assert account["addresses"][0]["url"].endswith(
        f"/callbacks/acmepay/{response.json()['id']}/notification/"
    )
    assert SECRET not in response.content.decode()
    with tenant_context(net_a.network):
        stored = Partner.objects.get(pk=response.json()["id"]).provider_account
        assert stored.provider_secrets == {"api_token": SECRET}


def test_a_declared_provider_gets_a_panel_section_and_audit_labels(owner_a, net_a, acmepay):
    client = owner_a.browser_client()
    form = client.get("/panel/partners/new/").content.decode()
    assert 'value="acmepay"' in form
    assert 'name="acmepay__terminal"' in form and "Номер терминала" in form
    assert 'name="acmepay__api_token"' in form and "Песочница AcmePay" in form

    added = client.post(
        "/panel/partners/new/",
        {
            "legal_form": "ip",
            "name": "ИП Акмеев",
            "inn": INN_IP,
            "tax_system": "usn_income",
            "vat": "none",
            "provider": "acmepay",
            "acmepay__terminal": "T0042",
            "acmepay__api_token": SECRET,
        },
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    with tenant_context(net_a.network):
        partner = Partner.objects.get(name="ИП Акмеев")
        entry = AuditEntry.objects.filter(action="partner.create").latest("created_at")
        assert "acmepay.api_token" in entry.changes and SECRET not in str(entry.changes)
    page = client.get(f"/panel/partners/{partner.pk}/").content.decode()
    assert f"/callbacks/acmepay/{partner.pk}/notification/" in page
    assert "Адрес уведомлений AcmePay" in page
    audit = client.get("/panel/audit/").content.decode()
    assert "Номер терминала" in audit and "Токен API" in audit
    assert "acmepay.api_token" not in audit and SECRET not in audit
    edit = client.get(f"/panel/partners/{partner.pk}/edit/").content.decode()
    assert SECRET not in edit and 'value="T0042"' in edit


def test_robokassas_block_is_built_from_its_declaration_with_the_contracts_fields():
    fields = PartnerIn.model_fields["robokassa"].annotation.__args__[0].model_fields
    assert list(fields) == [
        "merchant_login",
        "password1",
        "password2",
        "test_password1",
        "test_password2",
        "password3",
        "hash_algorithm",
        "test_mode",
        "fiscalization",
        "invoice_number_start",
    ]
    assert [name for name, f in fields.items() if f.is_required()] == [
        "merchant_login",
        "password1",
        "password2",
    ]
    assert fields["hash_algorithm"].default == "md5"


def test_robokassas_openapi_components_keep_the_contracts_fields(owner_a):
    components = owner_a.api().get("/api/v1/openapi.json").json()["components"]["schemas"]

    shop_in, shop_out = components["RobokassaIn"], components["RobokassaOut"]
    assert sorted(shop_in["required"]) == ["merchant_login", "password1", "password2"]
    assert shop_in["properties"]["password1"]["format"] == "password"
    assert shop_in["properties"]["hash_algorithm"]["default"] == "md5"
    assert shop_in["properties"]["hash_algorithm"]["enum"] == [
        "md5",
        "ripemd160",
        "sha1",
        "sha256",
        "sha384",
        "sha512",
    ]
    assert list(shop_out["properties"]) == [
        "merchant_login",
        "hash_algorithm",
        "test_mode",
        "fiscalization",
        "invoice_number_start",
        "refunds_enabled",
        "result_url",
        "success_url",
        "fail_url",
    ]
    assert "RobokassaPatch" in components
    assert "robokassa" in components["PartnerIn"]["properties"]


def test_a_robokassa_shop_can_also_be_given_as_a_provider_account(owner_a, net_a):
    body = {
        "name": "ИП Робокассов",
        "legal_form": "ip",
        "inn": INN_IP,
        "tax_system": "usn_income",
        "provider_account": {
            "provider": "robokassa",
            "values": {"merchant_login": "chq-1", "password1": "p-1", "password2": "p-2"},
            "test_mode": True,
        },
    }
    refused = post_json(owner_a.api(), "/api/v1/partners", body)
    assert refused.status_code == 422
    # The same code and words as Robokassa's block, from the declaration.
    assert refused.json()["code"] == "test_passwords_required"
    assert "тестовые пароли #1 и #2" in refused.json()["detail"]

    body["provider_account"]["values"] |= {"test_password1": "t-1", "test_password2": "t-2"}
    response = post_json(owner_a.api(), "/api/v1/partners", body)
    assert response.status_code == 201, response.content
    assert response.json()["robokassa"]["merchant_login"] == "chq-1"
    assert response.json()["robokassa"]["test_mode"] is True
    with tenant_context(net_a.network):
        account = Partner.objects.get(pk=response.json()["id"]).provider_account
        assert (account.password1, account.test_password2) == ("p-1", "t-2")
        assert not account.provider_secrets  # Robokassa's passwords keep their own columns


def test_every_declared_column_is_a_column_of_the_shop():
    from franchise_platform.network.models import HashAlgorithm, ProviderAccount

    columns = {f.name for f in ProviderAccount._meta.get_fields()}
    for provider_class in registry.declaring_providers():
        for spec in provider_class.account_fields:
            assert not spec.column or spec.column in columns, (provider_class.slug, spec.name)
            if spec.column == "hash_algorithm":
                assert [value for value, _label in spec.choices] == list(HashAlgorithm.values)


def test_declared_words_follow_the_language_of_the_request(owner_a):
    from tests.network.conftest import partner_body

    body = partner_body(robokassa={"password2": ""})
    with translation.override("ru"):  # the requests switch the language; it is put back after
        english = owner_a.api().post(
            "/api/v1/partners", body, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en"
        )
        russian = owner_a.api().post(
            "/api/v1/partners", body, content_type="application/json", HTTP_ACCEPT_LANGUAGE="ru"
        )

    assert english.json()["code"] == russian.json()["code"] == "password_required"
    assert "Enter the shop's password #2." in english.json()["detail"]
    assert "Укажите пароль #2 магазина." in russian.json()["detail"]
    with translation.override("ru"):
        form = owner_a.browser_client().get("/panel/partners/new/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Shop identifier" in form.content.decode()


def test_audit_rows_label_a_declared_field_and_the_shops_login_by_the_declaration(acmepay):
    from franchise_platform.panel.audit_labels import entry_rows
    from franchise_platform.security.models import AuditEntry as Entry

    entry = Entry(
        action="partner.update",
        changes={"acmepay.login": [None, "T0001"], "acmepay.api_token": "••• изменён"},
    )
    with translation.override("ru"):  # a request before may have left English active
        (row,) = entry_rows([entry])

    labels = {change.label: change for change in row.changes}
    assert labels["Номер терминала"].new == "T0001"
    assert labels["Токен API"].secret and labels["Токен API"].new is None
