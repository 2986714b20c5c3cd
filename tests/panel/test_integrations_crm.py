"""The integrations page shows the network's chosen CRM and its way to connect: amoCRM's OAuth
button as before; for Bitrix24 the install address to paste into the portal's app and the claim
step. The CRM can be switched only while none is connected; viewers cannot switch it."""

from __future__ import annotations

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import ConnectionStatus, CrmConnection
from franchise_platform.security.models import AuditEntry
from tenants.models import Network

pytestmark = pytest.mark.django_db

PAGE = "/panel/integrations/"
CHOOSE = "/panel/integrations/crm/"


def crm_of(net) -> str:
    return Network.objects.get(pk=net.network.pk).crm


def test_an_amocrm_network_sees_the_oauth_button_and_no_install_address(net_a):
    page = net_a.owner.browser_client().get(PAGE).content.decode()

    assert 'action="/panel/integrations/amocrm/connect/"' in page
    assert 'id="bitrix24-install-url"' not in page


def test_the_owner_switches_to_bitrix24_and_sees_the_install_address_and_claim_step(net_a):
    owner = net_a.owner.browser_client()

    response = owner.post(CHOOSE, {"crm": "bitrix24"})

    assert response.status_code == 302
    assert crm_of(net_a) == "bitrix24"
    page = owner.get(PAGE).content.decode()
    install_url = settings.PLATFORM_BASE_URL + "/integrations/bitrix24/install/"
    assert (
        f'id="bitrix24-install-url" aria-labelledby="bitrix24-install-url-label">{install_url}<'
        in page
    )
    assert 'id="bitrix24-claim"' in page and 'href="/panel/integrations/claim/"' in page
    assert 'action="/panel/integrations/amocrm/connect/"' not in page
    with tenant_context(net_a.network):
        entry = AuditEntry.objects.get(action="network.crm")
    assert entry.changes == {"crm": ["amocrm", "bitrix24"]}


@pytest.mark.parametrize("value", ["salesforce", "", "dummy", "BITRIX24"])
def test_an_unknown_crm_is_refused_in_russian_and_changes_nothing(net_a, value):
    response = net_a.owner.browser_client().post(CHOOSE, {"crm": value}, follow=True)

    assert "Такой CRM нет" in response.content.decode()
    assert crm_of(net_a) == "amocrm"


def test_switching_is_refused_while_a_crm_is_connected(net_a):
    with tenant_context(net_a.network):
        CrmConnection.objects.create(
            crm="amocrm",
            account_id="31337",
            base_url="https://x.amocrm.ru",
            status=ConnectionStatus.CONNECTED,
        )
    owner = net_a.owner.browser_client()

    page = owner.get(PAGE).content.decode()
    response = owner.post(CHOOSE, {"crm": "bitrix24"}, follow=True)

    assert 'id="crm-locked"' in page and 'id="crm-choose"' not in page
    assert "Сначала отключите подключённую CRM" in response.content.decode()
    assert crm_of(net_a) == "amocrm"
    with tenant_context(net_a.network):
        assert not AuditEntry.objects.filter(action="network.crm").exists()


def test_a_viewer_can_neither_see_the_switch_nor_switch(net_a):
    viewer = net_a.viewer.browser_client()

    page = viewer.get(PAGE).content.decode()
    response = viewer.post(CHOOSE, {"crm": "bitrix24"})

    assert 'id="crm-choose"' not in page
    assert response.status_code == 403
    assert crm_of(net_a) == "amocrm"


def test_another_networks_switch_does_not_touch_this_one(net_a, net_b):
    net_b.owner.browser_client().post(CHOOSE, {"crm": "bitrix24"})

    assert crm_of(net_b) == "bitrix24" and crm_of(net_a) == "amocrm"
