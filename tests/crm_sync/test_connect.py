"""Connecting amoCRM: signed single-use state, tokens sealed, account bound, fields created."""

from __future__ import annotations

import hashlib
import hmac
import time
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.db import connection
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.installs import pending_install_exchange
from franchise_platform.crm_sync.models import ConnectionStatus, CrmConnection
from franchise_platform.crm_sync.webhooks import webhook_subscribe
from tenants.models import CrmAccountBinding, PendingInstall
from tests.personas import platform_client

from .conftest import oauth_callback

pytestmark = pytest.mark.django_db


def test_connect_url_names_the_network_in_a_signed_state(net_a, settings):
    response = net_a.owner.api().post("/api/v1/crm/amocrm/connect")

    url = urlsplit(response.json()["authorize_url"])
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://www.amocrm.ru/oauth"
    assert query["client_id"] == [settings.AMOCRM_CLIENT_ID]
    assert query["mode"] == ["popup"]
    assert signing.loads(query["state"][0], salt="amocrm-oauth-state")["n"] == net_a.network.slug


def test_viewer_cannot_connect(net_a):
    assert net_a.viewer.api().post("/api/v1/crm/amocrm/connect").status_code == 403


def test_oauth_callback_binds_account_and_seals_tokens(connected):
    net, account_id, crm = connected

    binding = CrmAccountBinding.objects.get(account_id=account_id)
    assert binding.network_id == net.network.pk
    assert binding.state == "bound"
    assert binding.webhook_secret
    with tenant_context(net.network):
        assert crm.access_token and crm.refresh_token
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT access_token, refresh_token FROM crm_sync_crmconnection WHERE id = %s",
                [crm.pk],
            )
            raw_access, raw_refresh = cursor.fetchone()
        assert raw_access.startswith("fpenc:") and crm.access_token not in raw_access
        assert raw_refresh.startswith("fpenc:") and crm.refresh_token not in raw_refresh


def test_connect_creates_the_lead_fields_and_stores_their_ids(connected, amo):
    net, account_id, crm = connected

    names = {field["name"] for field in amo.fields(account_id)}
    assert {
        "Локация",
        "Ссылка на предоплату",
        "Ссылка на полную оплату",
        "Оплачено",
        "Статус оплаты",
    } <= names
    with tenant_context(net.network):
        crm.refresh_from_db()
        ids = {v for k, v in crm.field_map.items() if k.endswith("_field_id")}
    fake_ids = {field["id"] for field in amo.fields(account_id)}
    assert ids <= fake_ids  # ids come from the CRM, never assumed


def test_webhook_is_subscribed_with_the_accounts_secret(connected, amo):
    net, account_id, crm = connected
    with tenant_context(net.network):
        webhook_subscribe()

    secret = CrmAccountBinding.objects.get(account_id=account_id).webhook_secret
    destinations = [hook["destination"] for hook in amo.webhooks(account_id)]
    assert destinations == [f"http://localhost:8000/integrations/amocrm/webhook/{secret}/"]


@pytest.mark.parametrize("problem", ["forged", "expired", "unknown_network"])
def test_bad_state_binds_nothing(net_a, amo, problem):
    account_id = amo.add_account()
    if problem == "forged":
        state = signing.dumps({"n": net_a.network.slug, "x": "abc"}, salt="not-our-salt")
    elif problem == "expired":
        # A state signed 31 minutes ago.
        with mock.patch("time.time", return_value=time.time() - 31 * 60):
            state = signing.dumps({"n": net_a.network.slug, "x": "old"}, salt="amocrm-oauth-state")
    else:
        state = signing.dumps({"n": "no-such-network", "x": "n1"}, salt="amocrm-oauth-state")

    response = platform_client().get(
        "/integrations/amocrm/oauth/callback/",
        {
            "code": amo.authorize(account_id),
            "state": state,
            "referer": f"{amo.accounts[account_id].subdomain}.amocrm.ru",
        },
    )

    assert response.status_code == 400
    assert not CrmAccountBinding.objects.filter(account_id=account_id).exists()


def test_state_is_single_use(net_a, amo):
    account_id = amo.add_account()
    response = net_a.owner.api().post("/api/v1/crm/amocrm/connect")
    state = parse_qs(urlsplit(response.json()["authorize_url"]).query)["state"][0]
    browser = net_a.owner.browser_client()

    first = oauth_callback(net_a.owner, amo, account_id, state, browser=browser)
    second = oauth_callback(net_a.owner, amo, account_id, state, browser=browser)

    assert first.status_code == 200
    assert second.status_code == 400
    assert "уже использована" in second.content.decode()


def test_marketplace_install_answers_at_once_and_waits_unbound(amo):
    account_id = amo.add_account()
    subdomain = amo.accounts[account_id].subdomain

    response = platform_client().get(
        "/integrations/amocrm/oauth/callback/",
        {
            "code": amo.authorize(account_id),
            "referer": f"{subdomain}.amocrm.ru",
            "from_widget": "1",
        },
    )

    assert response.status_code == 200
    pending = PendingInstall.objects.get()
    assert pending.code.startswith("def502")
    binding = pending_install_exchange(pending_id=str(pending.pk))
    assert binding.state == "unbound"
    assert binding.network is None
    assert binding.pending_access_token
    assert not PendingInstall.objects.exists()


def test_disconnect_hook_needs_a_valid_hmac(connected, settings):
    net, account_id, crm = connected
    bad = platform_client().get(
        "/integrations/amocrm/disconnect/",
        {"client_uuid": settings.AMOCRM_CLIENT_ID, "account_id": account_id, "signature": "0" * 64},
    )
    assert bad.status_code == 403
    assert CrmAccountBinding.objects.get(account_id=account_id).state == "bound"

    good = platform_client().get(
        "/integrations/amocrm/disconnect/",
        {
            "client_uuid": settings.AMOCRM_CLIENT_ID,
            "account_id": account_id,
            # spec §1.5: hex(HMAC_SHA256(key=client_secret, msg=f"{client_uuid}|{account_id}"))
            "signature": hmac.new(
                settings.AMOCRM_CLIENT_SECRET.encode(),
                f"{settings.AMOCRM_CLIENT_ID}|{account_id}".encode(),
                hashlib.sha256,
            ).hexdigest(),
        },
    )

    assert good.status_code == 200
    assert CrmAccountBinding.objects.get(account_id=account_id).state == "revoked"
    with tenant_context(net.network):
        assert CrmConnection.objects.get(pk=crm.pk).status == ConnectionStatus.REVOKED
