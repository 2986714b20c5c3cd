"""Account ids are strings per CRM (issue 17, item 5): an amoCRM account and a Bitrix24 portal
may carry the same id string. The widget API's caller reaches its own CRM's binding and
connection only, never the other CRM's with the same id."""

from __future__ import annotations

import uuid

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import ConnectionStatus, CrmConnection
from franchise_platform.crm_sync.widget_api import WidgetCaller, _connection
from franchise_platform.payments.models import Deal
from tenants.models import CrmAccountBinding

from . import test_widget_api
from .test_widget_api import call

pytestmark = pytest.mark.django_db

lead = test_widget_api.lead  # the fixture: a lead of 5000 at a location, account connected


def test_an_amocrm_account_and_a_portal_with_the_same_id_in_two_networks_do_not_mix(
    lead, amo, net_b
):
    net_a, account_id, location, _ = lead
    same = str(account_id)
    # Network B holds a Bitrix24 account named by the same string (installs only carry 32-hex
    # member ids, so the rows are written here). Its binding sorts first: an unfiltered
    # ``.first()`` would pick it.
    CrmAccountBinding.objects.create(
        id=uuid.UUID(int=0),
        crm="bitrix24",
        account_id=same,
        network=net_b.network,
        state=CrmAccountBinding.State.BOUND,
    )
    with tenant_context(net_b.network):
        CrmConnection.objects.create(
            crm="bitrix24",
            account_id=same,
            subdomain="same.bitrix24.com",
            base_url="https://same.bitrix24.com",
            status=ConnectionStatus.CONNECTED,
        )

    # amoCRM's widget token: network A's amoCRM lead, written in network A only.
    pressed = call(amo, account_id)

    assert pressed.status_code == 200, pressed.content
    assert pressed.json()["location"]["id"] == str(location.pk)
    with tenant_context(net_a.network):
        assert Deal.objects.filter(crm="amocrm", crm_deal_id=7001).exists()
    with tenant_context(net_b.network):
        assert not Deal.objects.exists()


@pytest.mark.parametrize("crm", ["amocrm", "bitrix24"])
def test_the_callers_connection_is_the_one_of_its_crm(net_a, crm):
    with tenant_context(net_a.network):
        # The other CRM's connection sorts first: an unfiltered ``.first()`` would pick it.
        for slug in sorted(("amocrm", "bitrix24"), key=lambda slug: slug == crm):
            CrmConnection.objects.create(
                id=uuid.UUID(int=0 if slug != crm else 1),
                crm=slug,
                account_id="31337",
                subdomain=f"{slug}-31337",
                status=ConnectionStatus.CONNECTED,
            )
        caller = WidgetCaller(
            claims=_Claims(account_id="31337"),  # type: ignore[arg-type]
            network=net_a.network,
            crm=crm,
        )

        assert _connection(caller).crm == crm


class _Claims:
    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.user_id = 1
