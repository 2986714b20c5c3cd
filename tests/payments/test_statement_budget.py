"""Statement budgets of the three hot paths. The benchmark's figures (bench/lifecycle.py) depend
on how many round trips each makes to PostgreSQL; a change that adds one fails here first.

Savepoints are left out of the count: inside a test everything runs in one outer transaction, so
the BEGIN/COMMIT of the real thing show up as SAVEPOINT/RELEASE here.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from franchise_platform.crm_sync.models import OutboxMessage
from franchise_platform.flows.button import deal_links_ensure
from franchise_platform.flows.payment import callback_apply
from franchise_platform.payments.links import LeadFacts
from franchise_platform.payments.models import CallbackEvent, Invoice, LinkKind, Payment
from tests.factories import shop
from tests.panel_payments.conftest import crm_connection

from .helpers import active_link, callback, deal_with_links, invoice_marker_shp, visit

pytestmark = pytest.mark.django_db

# The counts as they are now; lower them when a path gets leaner, never raise them lightly.
CALLBACK_ANSWER_BUDGET = 5  # host routing (3), the invoice with its shop, the event's insert
APPLY_BUDGET = 18  # asynchronous commit (one SET LOCAL spares a WAL flush), locks, the payment,
# invoice/deal/link updates, the CRM's outbox rows
PRESS_BUDGET = 14  # the location with its shop, the deal's upsert, links, two outbox rows


def _statements(captured: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in captured.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


@pytest.fixture
def issued(in_network):
    """A network connected to amoCRM, a deal of 5000 and an issued prepayment invoice."""
    crm_connection()
    account = shop()
    deal = deal_with_links(account.partner.locations.get())
    visit(in_network.anonymous(), active_link(deal, LinkKind.PREPAYMENT))
    return account, deal, Invoice.objects.get()


def test_a_callback_is_answered_within_its_budget(in_network, issued):
    account, _, invoice = issued
    client = in_network.anonymous()

    shp = invoice_marker_shp(invoice.pk)  # looked up before counting: the test's own query

    with CaptureQueriesContext(connection) as captured:
        response = callback(client, account, inv_id=invoice.pk, out_sum="1500.000000", shp=shp)

    assert response.status_code == 200, response.content
    assert CallbackEvent.objects.filter(accepted=True).count() == 1
    assert len(_statements(captured)) <= CALLBACK_ANSWER_BUDGET, _statements(captured)


def test_a_payment_is_applied_within_its_budget(in_network, issued):
    account, deal, invoice = issued
    callback(in_network.anonymous(), account, inv_id=invoice.pk, out_sum="1500.000000")
    event = CallbackEvent.objects.get()
    outbox_before = OutboxMessage.objects.count()

    with CaptureQueriesContext(connection) as captured:
        callback_apply(event_id=str(event.pk))

    deal.refresh_from_db()
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert deal.paid == Decimal("1500.00")
    # A note for the payment; the deal's new state joins the state message still pending.
    assert OutboxMessage.objects.count() == outbox_before + 1
    assert OutboxMessage.objects.filter(kind="deal_state", status="pending", deal=deal).count() == 1
    assert len(_statements(captured)) <= APPLY_BUDGET, _statements(captured)


def test_a_press_on_a_new_lead_stays_within_its_budget(in_network, issued):
    account, _, _ = issued
    location = account.partner.locations.get()
    outbox_before = OutboxMessage.objects.count()

    with CaptureQueriesContext(connection) as captured:
        deal = deal_links_ensure(
            facts=LeadFacts("amocrm", 7002, "Квест", Decimal("4000"), str(location.pk))
        )

    assert sorted(deal.links.values_list("kind", flat=True)) == ["full", "prepayment"]
    assert OutboxMessage.objects.count() == outbox_before + 2  # links and a note
    assert len(_statements(captured)) <= PRESS_BUDGET, _statements(captured)
