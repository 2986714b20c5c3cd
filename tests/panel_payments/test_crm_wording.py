"""Issue 17: the panel speaks of the network's own CRM. A Bitrix24 network's pages (banners, deals,
payments, receipts, the dashboard, integrations, the claim page, royalties) never say «amoCRM»;
an amoCRM network's wording is unchanged."""

from __future__ import annotations

import re

import pytest

from crm_connectors.registry import crm_app
from tenants.models import Network

from .conftest import crm_connection, dead_message, overpaid_deal

pytestmark = pytest.mark.django_db

PAGES = [
    "/panel/",
    "/panel/dashboard/",
    "/panel/deals/",
    "/panel/payments/",
    "/panel/payments/receipts/",
    "/panel/integrations/",
    "/panel/integrations/claim/",
    "/panel/royalties/",
]


def _network_with_trouble(net, crm: str):
    """A network whose CRM access is revoked and has an undelivered update: both banners show."""
    Network.objects.filter(pk=net.network.pk).update(crm=crm)
    deal = overpaid_deal(net.anonymous())
    connection = crm_connection(status="revoked", crm=crm)
    dead_message(connection, deal=deal)
    return deal


def _without_crm_choice(html: str) -> str:
    """The CRM choice lists every CRM a network may pick, amoCRM among them."""
    return re.sub(r'<section class="card" id="crm-choice">.*?</section>', "", html, flags=re.S)


def _pages(client, deal) -> dict[str, str]:
    pages = {}
    for path in [*PAGES, f"/panel/deals/{deal.pk}/"]:
        response = client.get(path)
        assert response.status_code == 200, path
        pages[path] = response.content.decode()
    return pages


def test_a_bitrix24_networks_panel_never_says_amocrm(in_network):
    deal = _network_with_trouble(in_network, "bitrix24")

    pages = _pages(in_network.owner.browser_client(), deal)

    title = crm_app("bitrix24").title_ru  # the Russian panel writes «Битрикс24»
    assert f"Доступ к {title} отозван — переподключите интеграцию" in pages["/panel/"]
    for path, html in pages.items():
        assert "amoCRM" not in _without_crm_choice(html), path
    assert f"{title} № {deal.crm_deal_id}" in pages["/panel/deals/"]
    assert "вкладка «Ссылки на оплату»" in pages["/panel/integrations/claim/"]


def test_an_amocrm_networks_wording_is_unchanged(in_network):
    deal = _network_with_trouble(in_network, "amocrm")

    pages = _pages(in_network.owner.browser_client(), deal)

    assert "Доступ к amoCRM отозван — переподключите интеграцию" in pages["/panel/"]
    assert f"amoCRM № {deal.crm_deal_id}" in pages["/panel/deals/"]
    assert "Если виджет установили из маркетплейса amoCRM" in pages["/panel/integrations/claim/"]
    assert "Битрикс24, вкладка" not in pages["/panel/integrations/claim/"]
