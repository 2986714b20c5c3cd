"""The amoCRM account host: one strict parse of the OAuth `referer`, the validated host is the one
stored, and every connector re-validates the stored host. No crafted referer, and no row written
before the strict parse, may make a request (Bearer token, or a refresh with our client secret)
leave for a host that is not an amoCRM/Kommo account host."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime

import httpx
import pytest
from django_tenants.utils import tenant_context

from crm_connectors.amocrm.consts import ACCOUNT_HOST_RE
from crm_connectors.errors import CrmAuthError, CrmError
from franchise_platform.crm_sync.connect import ConnectError, code_exchange
from franchise_platform.crm_sync.connectors import BAD_HOST_ERROR
from franchise_platform.crm_sync.installs import pending_install_exchange
from franchise_platform.crm_sync.models import ConnectionStatus, CrmConnection
from franchise_platform.crm_sync.refresh import lead_facts_read
from tenants.models import CrmAccountBinding, PendingInstall
from tests.personas import platform_client

pytestmark = pytest.mark.django_db

CALLBACK = "/integrations/amocrm/oauth/callback/"

CRAFTED_REFERERS = [
    # the second parse of the old code read the host after the last "://"
    "https://x.amocrm.ru?://evil.example/",
    "https://x.amocrm.ru#://evil.example",
    "https://x.amocrm.ru/://evil.example",
    "x.amocrm.ru://evil.example",
    "evil.example://x.amocrm.ru",
    "https://x.amocrm.ru://evil.example",
    # userinfo
    "https://evil.example@x.amocrm.ru",
    "x.amocrm.ru@evil.example",
    "https://x.amocrm.ru@evil.example/",
    "https://x.amocrm.ru:secret@evil.example",
    # query, fragment, path, backslash
    "evil.example?.amocrm.ru",
    "evil.example#.amocrm.ru",
    "evil.example/x.amocrm.ru",
    "https://evil.example/x.amocrm.ru",
    "evil.example\\x.amocrm.ru",
    "https://x.amocrm.ru\\@evil.example",
    "https:\\\\evil.example\\x.amocrm.ru",
    # schemes
    "http://x.amocrm.ru",
    "HTTP://x.amocrm.ru",
    "//evil.example/x.amocrm.ru",
    "javascript://x.amocrm.ru",
    "file:///x.amocrm.ru",
    # ports
    "x.amocrm.ru:443",
    "x.amocrm.ru:8443",
    "https://x.amocrm.ru:444/",
    # IP literals and local names
    "127.0.0.1",
    "https://127.0.0.1",
    "[::1]",
    "https://[::1]:80",
    "169.254.169.254",
    "localhost",
    "0x7f000001",
    # look-alike domains
    "x.amocrm.ru.evil.example",
    "amocrm.ru.evil.example",
    "xamocrm.ru",
    "x.amocrm-ru.com",
    "x.amocrm.ru.",
    "x.amocrm.rս",
    "x.amócrm.ru",
    "x.kommo.co",
    ".amocrm.ru",
    "amocrm.ru",
    "-x.amocrm.ru",
    # percent encoding, control characters
    "x%2eamocrm.ru",
    "evil.example%2f.amocrm.ru",
    "evil.example%40x.amocrm.ru",
    "x.amocrm.ru%00.evil.example",
    "x.amocrm.ru\x00.evil.example",
    "x.amocrm.ru\nHost: evil.example",
    "x.amocrm.ru\tevil.example",
    " x.amocrm.ru evil.example",
    "",
]


class Recorder:
    """Every outgoing HTTP request of the test: amoCRM hosts get plausible answers, anything
    else a 401, which would make the client try a refresh (with the client secret) next."""

    def __init__(self) -> None:
        self.hosts: list[str] = []

    def send(self, client: httpx.Client, request: httpx.Request, **_: object) -> httpx.Response:
        host = request.url.host
        self.hosts.append(host)
        if ACCOUNT_HOST_RE.fullmatch(host):
            if request.url.path == "/oauth2/access_token":
                body = {
                    "token_type": "Bearer",
                    "expires_in": 86400,
                    "access_token": "access",
                    "refresh_token": "refresh",
                }
                return httpx.Response(200, content=json.dumps(body), request=request)
            if request.url.path == "/api/v4/account":
                body = {"id": 4242, "subdomain": host.split(".")[0], "name": "A"}
                return httpx.Response(200, content=json.dumps(body), request=request)
        return httpx.Response(401, content=b"{}", request=request)

    def foreign(self) -> list[str]:
        return [host for host in self.hosts if not ACCOUNT_HOST_RE.fullmatch(host)]


@pytest.fixture
def recorder(monkeypatch, settings) -> Recorder:
    settings.AMOCRM_API_BASE_URL = ""  # real account hosts: nothing may be hidden by the override
    recorder = Recorder()
    monkeypatch.setattr(
        httpx.Client, "send", lambda client, request, **kw: recorder.send(client, request, **kw)
    )
    return recorder


def _use_stored_host(network, base_url: str, account_id: int = 4242) -> None:
    """What the worker does with a stored connection: build the connector and call amoCRM, with
    an expired token so that a refresh (client secret in the body) is attempted."""
    with tenant_context(network):
        crm = CrmConnection.objects.create(
            account_id=account_id,
            base_url=base_url,
            access_token="access",
            refresh_token="refresh",
            expires_at=datetime(2000, 1, 1, tzinfo=UTC),
            status=ConnectionStatus.CONNECTED,
        )
        with contextlib.suppress(CrmError):
            lead_facts_read(crm=crm, lead_id=1)


@pytest.mark.parametrize("referer", CRAFTED_REFERERS)
def test_no_crafted_referer_sends_anything_to_a_foreign_host(net_a, recorder, referer):
    # The marketplace call (no state) and its background exchange.
    response = platform_client().get(
        CALLBACK, {"code": "def502" + "a" * 40, "referer": referer, "from_widget": "1"}
    )
    assert response.status_code < 500
    for pending in PendingInstall.objects.all():
        pending_install_exchange(pending_id=str(pending.pk))
    for binding in CrmAccountBinding.objects.all():
        _use_stored_host(net_a.network, binding.base_url)
    # The state path's exchange (the same function), then the worker using what it stored.
    try:
        exchanged = code_exchange(code="def502" + "b" * 40, referer=referer)
    except ConnectError:
        pass
    else:
        _use_stored_host(net_a.network, exchanged.base_url, account_id=4243)

    assert recorder.foreign() == []
    assert not PendingInstall.objects.exists()
    assert not CrmAccountBinding.objects.exists()


def test_a_real_referer_is_stored_as_its_host_and_called_there(net_a, recorder):
    exchanged = code_exchange(code="def502" + "c" * 40, referer="https://ChezaQuest.amocrm.ru/")

    assert exchanged.base_url == "https://chezaquest.amocrm.ru"
    _use_stored_host(net_a.network, exchanged.base_url)
    assert set(recorder.hosts) == {"chezaquest.amocrm.ru"}
    assert len(recorder.hosts) > 2  # the exchange, the account, then the worker's calls


BAD_STORED = [
    "https://evil.example",
    "https://evil.example@x.amocrm.ru",
    "https://x.amocrm.ru@evil.example",
    "https://x.amocrm.ru:8443",
    "http://x.amocrm.ru",
    "https://x.amocrm.ru/path",
    "https://x.amocrm.ru/",
    "https://127.0.0.1",
    "https://x.amocrm.ru.evil.example",
    "x.amocrm.ru",
    "",
]


@pytest.mark.parametrize("base_url", BAD_STORED)
def test_a_stored_bad_host_is_refused_and_asks_for_a_reconnect(net_a, recorder, base_url):
    with tenant_context(net_a.network):
        crm = CrmConnection.objects.create(
            account_id=4343,
            base_url=base_url,
            access_token="access",
            refresh_token="refresh",
            expires_at=datetime(2000, 1, 1, tzinfo=UTC),
            status=ConnectionStatus.CONNECTED,
        )
        with pytest.raises(CrmAuthError) as caught:
            lead_facts_read(crm=crm, lead_id=1)
        crm.refresh_from_db()

    assert caught.value.code == "bad_account_host"
    assert recorder.hosts == []
    assert crm.status == ConnectionStatus.REVOKED
    assert crm.last_error == BAD_HOST_ERROR


def test_a_stored_bad_host_is_refused_even_with_the_override(net_a, amo_server, settings):
    settings.AMOCRM_API_BASE_URL = amo_server.base_url
    with tenant_context(net_a.network):
        crm = CrmConnection.objects.create(
            account_id=4444, base_url="https://evil.example", status=ConnectionStatus.CONNECTED
        )
        with pytest.raises(CrmAuthError):
            lead_facts_read(crm=crm, lead_id=1)
        assert CrmConnection.objects.get(pk=crm.pk).status == ConnectionStatus.REVOKED
