"""`manage.py demo_network` (what `make run` runs): a demo network with everything the main job
needs, and nothing to do by hand first (issue 14, item 2)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import tenant_context

from franchise_platform.accounts.models import User
from franchise_platform.network.models import Location, Partner
from franchise_platform.payments.models import Deal, Payment
from franchise_platform.sandbox.demo import DEMO_ACCOUNT_ID, WALK_LEAD_ID, demo_connector
from tenants.models import CrmAccountBinding, Network
from tests.personas import network_drop


@pytest.fixture
def demo(settings, tmp_path, django_db_setup, django_db_blocker, monkeypatch):
    settings.DEMO_SANDBOX = True
    settings.CRM_CONNECTOR_OPTIONS = {"dummy": {"store_path": str(tmp_path / "crm.json")}}
    settings.BILLING_PROVIDER_OPTIONS = {
        **settings.BILLING_PROVIDER_OPTIONS,
        "dummy": {"payment_url": "/sandbox/pay/"},
    }
    monkeypatch.setattr(
        "tenants.management.commands.demo_network.CREDENTIALS_FILE", tmp_path / "login.txt"
    )
    with django_db_blocker.unblock():
        yield
        connection.set_schema_to_public()
        for network in Network.objects.filter(slug="chezaquest"):
            network_drop(network)
        CrmAccountBinding.objects.filter(account_id=DEMO_ACCOUNT_ID).delete()


def test_demo_network_has_shops_locations_deals_in_every_state_and_a_confirmed_owner(demo, capsys):
    call_command("demo_network")
    call_command("demo_network")  # `make run` again: nothing doubled

    out = capsys.readouterr().out
    assert "password: demo-" in out and f"/sandbox/?lead={WALK_LEAD_ID}" in out
    network = Network.objects.get(slug="chezaquest")
    binding = CrmAccountBinding.objects.get(account_id=DEMO_ACCOUNT_ID)
    assert (binding.network_id, binding.state, binding.crm) == (network.pk, "bound", "dummy")
    with tenant_context(network):
        assert User.objects.get(email=network.owner_email).email_verified_at is not None
        assert Partner.objects.count() == 3
        assert {p.provider_account.provider for p in Partner.objects.all()} == {"dummy"}
        assert Location.objects.count() == 4
        deals = {d.crm_deal_id: d for d in Deal.objects.all()}
        assert {d.status for d in deals.values()} == {
            "open",
            "partially_paid",
            "paid",
            "overpaid",
        }
        assert deals[7002].paid == Decimal("3600.00")  # 30 % of 12,000
        assert deals[7004].paid > deals[7004].total
        test_payment = Payment.objects.get(invoice__deal=deals[7005])
        assert test_payment.is_test and deals[7005].paid == 0
        assert WALK_LEAD_ID not in deals  # the walk's lead: its links are the newcomer's to make
    lead = demo_connector().lead(WALK_LEAD_ID)
    assert lead.price == Decimal("5000")


def test_a_lost_crm_file_is_refilled_on_the_next_run(demo, settings):
    call_command("demo_network")
    Path(settings.CRM_CONNECTOR_OPTIONS["dummy"]["store_path"]).unlink()

    call_command("demo_network")

    crm = demo_connector()
    assert crm.lead(WALK_LEAD_ID).price == Decimal("5000")
    assert crm.lead(7002).price == Decimal("12000")
