"""Lead webhooks: intake is quick, values untrusted, the lead re-read, the deal recomputed."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync import tasks
from franchise_platform.flows.refresh import lead_refresh
from franchise_platform.payments.models import Deal, Invoice, InvoiceStatus, LinkKind, LinkStatus
from tenants.models import CrmAccountBinding
from tests.factories import LocationFactory, shop
from tests.personas import platform_client

from .test_widget_api import call

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    calls = []
    monkeypatch.setattr(tasks.lead_refresh, "delay", lambda lead_id: calls.append(lead_id))
    return calls


def _post(secret, form):
    pairs = list(form.items()) if isinstance(form, dict) else list(form)
    return platform_client().post(
        f"/integrations/amocrm/webhook/{secret}/",
        urlencode(pairs),
        content_type="application/x-www-form-urlencoded",
    )


def test_webhook_queues_one_refresh_per_lead(connected, amo, queued):
    net, account_id, _ = connected
    secret = CrmAccountBinding.objects.get(account_id=account_id).webhook_secret
    form = amo.webhook_form(account_id, 7001, "update") + amo.webhook_form(
        account_id, 7001, "update"
    )

    response = _post(secret, form)

    assert response.status_code == 200
    assert queued == [7001]


def test_unknown_secret_is_404_and_queues_nothing(connected, amo, queued):
    _, account_id, _ = connected
    response = _post("not-a-secret", amo.webhook_form(account_id, 7001, "update"))
    assert response.status_code == 404
    assert queued == []


def test_garbage_payload_is_ignored(connected, queued):
    _, account_id, _ = connected
    secret = CrmAccountBinding.objects.get(account_id=account_id).webhook_secret

    response = _post(secret, {"leads[update][0][id]": "'; DROP TABLE x; --", "junk": "\x00\xff"})

    assert response.status_code == 200
    assert queued == []


def test_events_of_another_account_are_ignored(connected, amo, queued):
    _, account_id, _ = connected
    other = amo.add_account()
    secret = CrmAccountBinding.objects.get(account_id=account_id).webhook_secret

    _post(secret, amo.webhook_form(other, 7001, "update"))

    assert queued == []


@pytest.fixture
def generated(connected, amo):
    net, account_id, crm = connected
    with tenant_context(net.network):
        location = shop().partner.locations.get()
        moved_to = shop().partner
        from franchise_platform.crm_sync.connectors import connector_for
        from franchise_platform.crm_sync.sender import fields_ensure

        fields = fields_ensure(crm, connector_for(crm))
    enum_id = fields.location_options[str(location.pk)]
    amo.set_lead(account_id, 7001, 5000, location_enum_id=enum_id)
    assert call(amo, account_id).status_code == 200
    return net, account_id, location, moved_to, enum_id


def test_price_change_reprices_links_from_the_api_not_the_payload(generated, amo):
    net, account_id, location, _, enum_id = generated
    amo.set_lead(account_id, 7001, 8000, location_enum_id=enum_id)

    with tenant_context(net.network):
        lead_refresh(lead_id=7001)
        deal = Deal.objects.get(crm_deal_id=7001)
        full = deal.links.get(kind=LinkKind.FULL, status=LinkStatus.ACTIVE)

    assert deal.total == Decimal("8000.00")
    assert full.amount == Decimal("8000.00")


def test_location_moved_to_another_partner_retires_old_shop_invoices(generated, amo):
    net, account_id, location, moved_to, _ = generated
    with tenant_context(net.network):
        deal = Deal.objects.get(crm_deal_id=7001)
        net.anonymous().get(f"/pay/{deal.links.get(kind=LinkKind.FULL).token}")
        location.partner = moved_to
        location.save()

        lead_refresh(lead_id=7001)

        deal.refresh_from_db()
        assert deal.partner == moved_to
        assert Invoice.objects.get().status == InvoiceStatus.RETIRED
        response = net.anonymous().get(f"/pay/{deal.links.get(kind=LinkKind.FULL).token}")
        new_invoice = Invoice.objects.get(status=InvoiceStatus.ISSUED)
        assert new_invoice.provider_account == moved_to.provider_account
        assert f"MerchantLogin={moved_to.provider_account.merchant_login}" in response["Location"]


def test_refresh_of_an_untracked_lead_does_nothing(connected, amo):
    net, account_id, _ = connected
    amo.set_lead(account_id, 7100, 1000)
    with tenant_context(net.network):
        LocationFactory()
        requests_before = len(amo.api_requests(account_id))
        lead_refresh(lead_id=7100)
        assert not Deal.objects.exists()
    assert len(amo.api_requests(account_id)) == requests_before
