"""The onboarding checklist ticks each step from real data, and the home page shows it."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from franchise_platform.crm_sync.models import ConnectionStatus, CrmConnection
from franchise_platform.flows.payment import callback_apply
from franchise_platform.network.models import Location, Partner
from franchise_platform.panel.onboarding import STEP_KEYS, onboarding_progress
from franchise_platform.payments.models import CallbackEvent, Invoice, LinkKind, Payment
from tests.factories import LocationFactory, shop
from tests.payments.helpers import active_link, callback, deal_with_links, visit

pytestmark = pytest.mark.django_db


def _done(progress) -> list[str]:
    return [step.key for step in progress.steps if step.done]


def test_a_new_network_has_done_nothing(in_network):
    progress = onboarding_progress()

    assert [s.key for s in progress.steps] == list(STEP_KEYS)
    assert (progress.done, progress.total, progress.percent) == (0, 6, 0)
    assert not progress.complete


def test_each_step_ticks_itself_from_the_network_data(in_network):
    account = shop()  # a partner with a shop and one active location
    assert _done(onboarding_progress()) == ["partner_added", "locations_bound"]

    Partner.objects.update(shop_checked_at=timezone.now())
    assert "shop_checked" in _done(onboarding_progress())

    crm = CrmConnection.objects.create(
        account_id=31415, base_url="https://q.amocrm.ru", status=ConnectionStatus.CONNECTED
    )
    assert "crm_connected" not in _done(onboarding_progress())  # fields not created yet
    crm.field_map = {"link_prepayment": 1, "link_full": 2}
    crm.save()
    assert "crm_connected" in _done(onboarding_progress())

    deal = deal_with_links(account.partner.locations.get())
    assert "links_generated" in _done(onboarding_progress())

    visit(in_network.anonymous(), active_link(deal, LinkKind.PREPAYMENT))
    invoice = Invoice.objects.get()
    callback(in_network.anonymous(), account, inv_id=invoice.pk, out_sum=str(invoice.amount))
    callback_apply(event_id=str(CallbackEvent.objects.get().pk))
    assert Payment.objects.count() == 1

    progress = onboarding_progress()
    assert progress.complete and progress.percent == 100


def test_a_test_mode_payment_is_not_the_first_payment(in_network):
    account = shop()
    deal = deal_with_links(account.partner.locations.get())
    visit(in_network.anonymous(), active_link(deal, LinkKind.PREPAYMENT))
    invoice = Invoice.objects.get()
    callback(in_network.anonymous(), account, inv_id=invoice.pk, out_sum=str(invoice.amount))
    callback_apply(event_id=str(CallbackEvent.objects.get().pk))

    Payment.objects.update(is_test=True)

    assert "first_payment" not in _done(onboarding_progress())


def test_a_location_of_an_inactive_partner_binds_nothing(in_network):
    LocationFactory(partner__active=False)
    assert "locations_bound" not in _done(onboarding_progress())
    Location.objects.update(active=False)
    Partner.objects.update(active=True)
    assert "locations_bound" not in _done(onboarding_progress())


def test_home_shows_the_checklist_with_links_to_where_each_step_is_done(owner_a):
    html = owner_a.browser_client().get("/panel/").content.decode()

    assert "0 из 6" in html
    assert 'value="0"' in html and 'max="6"' in html
    for key in STEP_KEYS:
        assert f'data-step="{key}"' in html
    for url in ("/panel/partners/new/", "/panel/locations/new/", "/panel/integrations/"):
        assert f'href="{url}"' in html


def test_home_ticks_done_steps(owner_a, in_network):
    shop()

    html = owner_a.browser_client().get("/panel/").content.decode()

    assert "2 из 6" in html
    assert re.search(r'class="onboarding-step is-done"\s+data-step="partner_added"', html)
    assert re.search(r'class="onboarding-step"\s+data-step="shop_checked"', html)


def test_viewer_sees_progress_but_no_buttons(viewer_a):
    html = viewer_a.browser_client().get("/panel/").content.decode()

    assert "0 из 6" in html
    assert 'href="/panel/partners/new/"' not in html
