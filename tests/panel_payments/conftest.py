"""Deals, payments and CRM rows of network A made through the real flows (links, /pay/, signed
Robokassa callbacks applied once), plus the panel's browser fixtures."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext

from franchise_platform.crm_sync.models import (
    CrmConnection,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
)
from franchise_platform.flows.payment import callback_apply
from franchise_platform.network.models import Location, ProviderAccount
from franchise_platform.payments.models import (
    CallbackEvent,
    CallbackStatus,
    Deal,
    Invoice,
    LinkKind,
)
from tests.factories import DealFactory, shop
from tests.panel.conftest import (  # noqa: F401  (fixtures shared with the panel's browser tests)
    browser_network,
    chromium,
    csp_clean,
    live_server_port,
    panel_site,
    shoot,
)
from tests.payments.helpers import active_link, callback, deal_with_links, visit


def count_queries(call) -> int:
    """Statements one call makes. The connection's log is emptied first: it keeps at most 9000
    entries, and once full a capture around a call would count nothing at all."""
    reset_queries()
    with CaptureQueriesContext(connection) as captured:
        call()
    assert len(captured) > 0
    return len(captured)


def apply_pending() -> None:
    """What the worker does after each accepted notification."""
    for event in CallbackEvent.objects.filter(status=CallbackStatus.PENDING):
        callback_apply(event_id=str(event.pk))


@dataclass
class PaidDeal:
    account: ProviderAccount
    location: Location
    deal: Deal
    invoice: Invoice


def paid_deal(client, *, account=None, lead=7001, total="5000", refused=True) -> PaidDeal:
    """A deal whose prepayment (30 %) is paid through a signed callback; with `refused`, first a
    notification signed with a wrong password, which the inbox keeps as refused."""
    account = account or shop(merchant_login=f"shop-{lead}")
    location = account.partner.locations.get()
    deal = deal_with_links(location, total=total, lead=lead)
    visit(client, active_link(deal, LinkKind.PREPAYMENT))
    invoice = Invoice.objects.filter(deal=deal).latest("id")
    if refused:
        callback(client, account, inv_id=invoice.pk, out_sum=invoice.amount, password2="wrong-pass")
    callback(client, account, inv_id=invoice.pk, out_sum=invoice.amount)
    apply_pending()
    deal.refresh_from_db()
    return PaidDeal(account, location, deal, invoice)


def overpaid_deal(client, *, lead=7100) -> Deal:
    """Both links paid: the full invoice (5000) was issued before the prepayment (1500) came in,
    and the buyer paid it too — 6500 for a 5000 deal."""
    account = shop(merchant_login=f"shop-{lead}")
    deal = deal_with_links(account.partner.locations.get(), total="5000", lead=lead)
    visit(client, active_link(deal, LinkKind.FULL))
    visit(client, active_link(deal, LinkKind.PREPAYMENT))
    for invoice in Invoice.objects.filter(deal=deal).order_by("id"):
        callback(client, account, inv_id=invoice.pk, out_sum=invoice.amount)
    apply_pending()
    deal.refresh_from_db()
    return deal


def crm_connection(*, account_id: int = 31337, status: str = "connected", **extra) -> CrmConnection:
    return CrmConnection.objects.create(
        account_id=account_id,
        subdomain="chezaquest",
        base_url="https://chezaquest.amocrm.ru",
        access_token="access",
        refresh_token="refresh",
        status=status,
        **extra,
    )


def dead_message(
    connection: CrmConnection, *, deal: Deal | None = None, error="http_400: Bad field"
) -> OutboxMessage:
    deal = deal or DealFactory()
    return OutboxMessage.objects.create(
        connection=connection,
        kind=OutboxKind.DEAL_STATE,
        deal=deal,
        dedupe_key=f"deal_state:{deal.pk}:dead",
        status=OutboxStatus.DEAD,
        attempts=8,
        last_error=error,
    )


@pytest.fixture
def owner(in_network):
    return in_network.owner.browser_client()
