"""The networks list: figures per network from its own schema (one query for a whole page, cached
for a minute), sign-up date and amoCRM binding state."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from franchise_platform.operator.selectors import _cache_key, network_page
from franchise_platform.payments.models import Invoice, Payment
from tenants.models import CrmAccountBinding
from tests.factories import DealFactory, LocationFactory, shop

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_figures(net_a, net_b):
    with schema_context("public"):
        cache.delete_many([_cache_key(n.network.schema_name) for n in (net_a, net_b)])


def _pay(account, deal, amount: str, *, days_ago: int = 0, is_test: bool = False) -> Payment:
    invoice = Invoice.objects.create(
        deal=deal,
        provider_account=account,
        provider="robokassa",
        amount=Decimal(amount),
        payment_kind="full",
        status="paid",
        is_test=is_test,
        payment_url="-",
        expires_at=timezone.now(),
    )
    return Payment.objects.create(
        invoice=invoice,
        deal=deal,
        partner=account.partner,
        amount=Decimal(amount),
        kind="full",
        is_test=is_test,
        paid_at=timezone.now() - timedelta(days=days_ago),
    )


def test_each_network_shows_its_own_figures(console, net_a, net_b):
    with tenant_context(net_a.network):
        account = shop()  # 1 partner, 1 location
        LocationFactory(partner=account.partner)
        deal = DealFactory(location=account.partner.locations.first(), partner=account.partner)
        _pay(account, deal, "1500.00")
        _pay(account, DealFactory(partner=account.partner), "2500.50", days_ago=3)
        _pay(account, DealFactory(partner=account.partner), "9999.00", days_ago=45)  # too old
        _pay(account, DealFactory(partner=account.partner), "777.00", is_test=True)  # a test
    CrmAccountBinding.objects.create(
        account_id=555001, subdomain="alphaquest", network=net_a.network, state="bound"
    )

    html = console.get("/operator/").content.decode()

    row_a = re.search(r'<tr data-slug="alpha".*?</tr>', html, re.S).group(0)
    cells = re.findall(r'class="num"[^>]*>([^<]+)<', row_a)
    assert [c.strip() for c in cells] == ["1", "2", "4", "2", "4\xa0000,50 ₽"]
    assert "alphaquest · Привязан" in row_a
    row_b = re.search(r'<tr data-slug="bravo".*?</tr>', html, re.S).group(0)
    assert [c.strip() for c in re.findall(r'class="num"[^>]*>([^<]+)<', row_b)][:4] == ["0"] * 4
    assert "не подключена" in row_b
    assert (
        "регистрация " + timezone.localtime(net_a.network.created_at).strftime("%d.%m.%Y") in row_a
    )


def test_figures_of_a_page_take_one_query_however_many_networks(console, net_a, net_b):
    with CaptureQueriesContext(connection) as queries:
        listing = network_page()
    union = [q for q in queries.captured_queries if "UNION ALL" in q["sql"]]
    assert len(union) == 1
    assert len(listing.rows) >= 2
    real = [q for q in queries.captured_queries if not q["sql"].startswith("SET search_path")]
    assert len(real) == 4  # count, page, figures (all schemas at once), bindings


def test_figures_are_cached_for_a_minute(console, net_a):
    network_page()
    with tenant_context(net_a.network):
        shop()

    with CaptureQueriesContext(connection) as queries:
        listing = network_page()

    assert not [q for q in queries.captured_queries if "UNION ALL" in q["sql"]]
    row = next(r for r in listing.rows if r.network.slug == "alpha")
    assert row.stats.partners == 0  # a minute old, by design


def test_search_and_status_filter(console, net_a, net_b):
    html = console.get("/operator/", {"q": "браво"}).content.decode()
    assert 'data-slug="bravo"' in html and 'data-slug="alpha"' not in html

    html = console.get("/operator/", {"status": "suspended"}).content.decode()
    assert 'data-slug="alpha"' not in html


def test_network_page_shows_figures_and_actions(console, net_a):
    html = console.get("/operator/networks/alpha/").content.decode()
    assert "Сеть «Альфа»" in html
    assert "Приостановить" in html and "Выгрузить данные" in html and "Удалить сеть" in html


def test_unknown_network_is_404(console):
    assert console.get("/operator/networks/nope/").status_code == 404
