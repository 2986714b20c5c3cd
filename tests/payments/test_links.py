"""Generating links: the deal is upserted, exactly one active link per kind, clear refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from franchise_platform.flows.button import deal_links_ensure
from franchise_platform.payments.errors import LinkRefused
from franchise_platform.payments.links import LeadFacts
from franchise_platform.payments.models import Deal, LinkKind, LinkStatus, PaymentLink
from tests.factories import LocationFactory, settings_set, shop

pytestmark = pytest.mark.django_db


def _facts(location, total="5000", lead=7001, title="Квест на 6 человек"):
    return LeadFacts(
        crm="amocrm",
        crm_deal_id=lead,
        title=title,
        total=Decimal(total),
        location_id=str(location.pk) if location else None,
    )


def _links(deal):
    return {link.kind: link for link in deal.links.filter(status=LinkStatus.ACTIVE)}


def test_button_creates_deal_and_two_links_with_rule_amounts(in_network):
    settings_set(mode="percent", value="30")
    location = shop().partner.locations.get()

    deal = deal_links_ensure(facts=_facts(location))

    links = _links(deal)
    assert set(links) == {LinkKind.PREPAYMENT, LinkKind.FULL}
    assert links[LinkKind.PREPAYMENT].amount == Decimal("1500.00")
    assert links[LinkKind.FULL].amount == Decimal("5000.00")
    assert deal.partner == location.partner
    assert deal.status == "open"


def test_second_press_returns_same_links(in_network):
    location = shop().partner.locations.get()
    first = _links(deal_links_ensure(facts=_facts(location)))

    second = _links(deal_links_ensure(facts=_facts(location)))

    assert {k: v.token for k, v in first.items()} == {k: v.token for k, v in second.items()}
    assert PaymentLink.objects.count() == 2
    assert Deal.objects.count() == 1


def test_prepayment_rounds_half_up_to_whole_rubles(in_network):
    settings_set(mode="percent", value="33")
    location = shop().partner.locations.get()

    deal = deal_links_ensure(facts=_facts(location, total="1550"))

    assert _links(deal)[LinkKind.PREPAYMENT].amount == Decimal("512.00")  # 511.5 -> 512


def test_explicit_prepayment_is_honoured(in_network):
    location = shop().partner.locations.get()

    deal = deal_links_ensure(facts=_facts(location), prepayment_amount=Decimal("1000.00"))

    assert _links(deal)[LinkKind.PREPAYMENT].amount == Decimal("1000.00")


@pytest.mark.parametrize("amount", ["0", "-5", "5000", "6000"])
def test_explicit_prepayment_outside_bounds_is_refused(in_network, amount):
    location = shop().partner.locations.get()

    with pytest.raises(LinkRefused) as refused:
        deal_links_ensure(facts=_facts(location), prepayment_amount=Decimal(amount))

    assert refused.value.code == "invalid_prepayment"
    assert Deal.objects.count() == 0


def test_deal_too_small_to_split_gets_the_full_sum_on_both(in_network):
    settings_set(mode="fixed", value="1000")
    location = shop().partner.locations.get()

    deal = deal_links_ensure(facts=_facts(location, total="800"))

    links = _links(deal)
    assert links[LinkKind.PREPAYMENT].amount == Decimal("800.00")
    assert links[LinkKind.FULL].amount == Decimal("800.00")


def test_price_change_reprices_links_with_same_urls(in_network):
    location = shop().partner.locations.get()
    before = _links(deal_links_ensure(facts=_facts(location, total="5000")))

    after = _links(deal_links_ensure(facts=_facts(location, total="6000")))

    assert after[LinkKind.FULL].token == before[LinkKind.FULL].token
    assert after[LinkKind.FULL].amount == Decimal("6000.00")
    assert after[LinkKind.PREPAYMENT].amount == Decimal("1800.00")


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("no_location", "lead_without_location"),
        ("inactive_partner", "location_without_partner"),
        ("inactive_location", "unknown_location"),
        ("zero_price", "zero_price"),
    ],
)
def test_refusals_explain_in_russian_and_create_nothing(in_network, case, code):
    account = shop()
    location = account.partner.locations.get()
    total = "5000"
    if case == "no_location":
        location = None
    elif case == "inactive_partner":
        account.partner.active = False
        account.partner.save()
    elif case == "inactive_location":
        location.active = False
        location.save()
    elif case == "zero_price":
        total = "0"

    with pytest.raises(LinkRefused) as refused:
        deal_links_ensure(facts=_facts(location, total=total))

    assert refused.value.code == code
    assert any("а" <= ch <= "я" for ch in refused.value.detail.lower())
    assert Deal.objects.count() == 0
    assert PaymentLink.objects.count() == 0


def test_location_moved_to_another_partner_switches_shop(in_network):
    old = shop()
    new = shop()
    location = old.partner.locations.get()
    deal = deal_links_ensure(facts=_facts(location))
    location.partner = new.partner
    location.save()

    deal = deal_links_ensure(facts=_facts(location))

    assert deal.partner == new.partner


def test_location_of_another_network_is_unknown_here(net_a, net_b):
    from django_tenants.utils import tenant_context

    with tenant_context(net_b.network):
        foreign = LocationFactory()
    with tenant_context(net_a.network):
        with pytest.raises(LinkRefused) as refused:
            deal_links_ensure(facts=_facts(foreign))
        assert refused.value.code == "unknown_location"
