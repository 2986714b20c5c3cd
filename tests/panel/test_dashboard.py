"""/panel/dashboard/ and the home page's summary: turnover over time, by partner and location, links
→ payment, outstanding prepayments, test payments apart; the same money as the payments list."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from franchise_platform.panel.dashboard import DashboardQuery, dashboard_get
from franchise_platform.payments.models import Deal, Invoice, Payment, PaymentLink
from tests.factories import LocationFactory, shop
from tests.panel_payments.conftest import count_queries, owner  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

_lead = iter(range(90_000, 99_999))


def paid(
    location,
    *,
    amount: str,
    paid_at: datetime | None,
    is_test: bool = False,
    link_at: datetime | None = None,
    total: str | None = None,
    status: str = "paid",
    service_date: datetime | None = None,
    title: str = "",
) -> Deal:
    """A deal with its full link, one invoice and (unless `paid_at` is None) one payment."""
    account = location.partner.provider_account
    deal = Deal.objects.create(
        crm_deal_id=next(_lead),
        title=title or "Квест",
        total=Decimal(total or amount),
        paid=Decimal(amount) if paid_at and not is_test else Decimal("0.00"),
        status=status,
        location=location,
        partner=location.partner,
        service_date=service_date,
    )
    link = PaymentLink.objects.create(deal=deal, kind="full", amount=deal.total, status="active")
    if link_at:
        PaymentLink.objects.filter(pk=link.pk).update(created_at=link_at)
    if paid_at is None:
        return deal
    invoice = Invoice.objects.create(
        link=link,
        deal=deal,
        provider_account=account,
        provider="robokassa",
        amount=Decimal(amount),
        payment_kind="full",
        status="paid",
        is_test=is_test,
        payment_url="-",
        expires_at=paid_at,
        paid_at=paid_at,
    )
    Payment.objects.create(
        invoice=invoice,
        deal=deal,
        partner=location.partner,
        amount=Decimal(amount),
        kind="full",
        is_test=is_test,
        paid_at=paid_at,
    )
    return deal


def days_ago(n: int, hour: int = 12) -> datetime:
    day = timezone.localdate() - timedelta(days=n)
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


@pytest.fixture
def network_money(in_network):
    """Two partners, three locations; real payments over 40 days, one test payment, one old one."""
    kazan = shop(merchant_login="kazan")
    ufa = shop(merchant_login="ufa")
    kazan_a = kazan.partner.locations.get()
    kazan_b = LocationFactory(partner=kazan.partner, name="Квест «Бета»")
    ufa_a = ufa.partner.locations.get()
    paid(kazan_a, amount="1500.00", paid_at=days_ago(0))
    paid(kazan_a, amount="2500.50", paid_at=days_ago(3))
    paid(kazan_b, amount="4000.00", paid_at=days_ago(12))
    paid(ufa_a, amount="900.00", paid_at=days_ago(1))
    paid(ufa_a, amount="700.00", paid_at=days_ago(35))
    paid(ufa_a, amount="100000.00", paid_at=days_ago(200))  # outside every period asked below
    paid(kazan_a, amount="777.00", paid_at=days_ago(2), is_test=True)
    return {"kazan": kazan.partner, "ufa": ufa.partner, "kazan_b": kazan_b, "ufa_a": ufa_a}


def _figure(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">\s*([^<]*?)\s*<', html)
    assert found, element_id
    return found.group(1)


def _list_figures(client, params) -> tuple[str, str]:
    html = client.get("/panel/payments/", params).content.decode()
    return _figure(html, "payments-total"), _figure(html, "payments-count")


@pytest.mark.parametrize(
    "case", ["all", "partner", "location", "period", "partner_and_period", "nothing"]
)
def test_turnover_agrees_with_the_payments_list(in_network, owner, network_money, case):  # noqa: F811
    """The dashboard's turnover and count equal the payments list's total and count for the same
    filter, computed by both pages from the same rows; the buckets, the partners and the locations
    each add up to that turnover."""
    since = (timezone.localdate() - timedelta(days=89)).isoformat()
    params = {
        "all": {"paid_from": since},
        "partner": {"paid_from": since, "partner": str(network_money["kazan"].pk)},
        "location": {"paid_from": since, "location": str(network_money["ufa_a"].pk)},
        "period": {
            "paid_from": (timezone.localdate() - timedelta(days=5)).isoformat(),
            "paid_to": (timezone.localdate() - timedelta(days=1)).isoformat(),
        },
        "partner_and_period": {
            "paid_from": (timezone.localdate() - timedelta(days=20)).isoformat(),
            "partner": str(network_money["kazan"].pk),
        },
        "nothing": {
            "paid_from": since,
            "partner": str(network_money["ufa"].pk),
            "location": str(network_money["kazan_b"].pk),
        },
    }[case]

    response = owner.get("/panel/dashboard/", params)
    html = response.content.decode()
    list_total, list_count = _list_figures(owner, params)

    assert response.status_code == 200
    assert _figure(html, "dash-turnover") == list_total
    assert re.match(rf"{list_count}\b", _figure(html, "dash-count"))
    dashboard = response.context["dashboard"]
    assert sum((b.amount for b in dashboard.series), Decimal(0)) == dashboard.totals.amount
    assert sum((s.amount for s in dashboard.partners), Decimal(0)) == dashboard.totals.amount
    assert sum((s.amount for s in dashboard.locations), Decimal(0)) == dashboard.totals.amount
    assert sum(b.count for b in dashboard.series) == dashboard.totals.count


def test_known_figures_and_test_payments_apart(in_network, owner, network_money):  # noqa: F811
    html = owner.get("/panel/dashboard/").content.decode()  # the last 30 days

    assert _figure(html, "dash-turnover") == "8\xa0900,50 ₽"
    assert "777" not in _figure(html, "dash-turnover")
    tests = _figure(html, "dash-tests").strip()
    assert "ТЕСТ" in html and "1 тестовый платёж на 777,00 ₽" in html, tests
    partners = owner.get("/panel/dashboard/").context["dashboard"].partners
    assert [(s.name, s.amount) for s in partners] == [
        (network_money["kazan"].name, Decimal("8000.50")),
        (network_money["ufa"].name, Decimal("900.00")),
    ]
    assert [s.percent for s in partners] == [Decimal("89.9"), Decimal("10.1")]


def test_buckets_follow_the_network_time_zone(in_network):
    """A payment at 22:30 UTC is made the next day in Moscow (UTC+3) and counts there."""
    location = shop(merchant_login="tz").partner.locations.get()
    day = timezone.localdate() - timedelta(days=3)
    late = datetime(day.year, day.month, day.day, 22, 30, tzinfo=UTC)  # 01:30 MSK, next day
    paid(location, amount="100.00", paid_at=late)
    paid(location, amount="50.00", paid_at=days_ago(10))

    daily = dashboard_get(
        query=DashboardQuery(since=day - timedelta(days=14), until=day + timedelta(days=1))
    )
    weekly = dashboard_get(
        query=DashboardQuery(
            since=day - timedelta(days=14), until=day + timedelta(days=1), grain="week"
        )
    )
    monthly = dashboard_get(
        query=DashboardQuery(
            since=day - timedelta(days=60), until=day + timedelta(days=1), grain="month"
        )
    )

    by_day = {b.start: b.amount for b in daily.series if b.amount}
    assert by_day == {
        day + timedelta(days=1): Decimal("100.00"),
        days_ago(10).date(): Decimal("50.00"),
    }
    assert all(b.start.weekday() == 0 for b in weekly.series)
    assert sum((b.amount for b in weekly.series), Decimal(0)) == Decimal("150.00")
    assert all(b.start.day == 1 for b in monthly.series)
    assert sum((b.amount for b in monthly.series), Decimal(0)) == Decimal("150.00")


def test_links_to_payment_conversion_and_median(in_network, owner):  # noqa: F811
    location = shop(merchant_login="conv").partner.locations.get()
    start = days_ago(5, hour=10)
    paid(location, amount="1000.00", paid_at=start + timedelta(hours=1), link_at=start)
    paid(location, amount="1000.00", paid_at=start + timedelta(hours=3), link_at=start)
    paid(location, amount="1000.00", paid_at=None, link_at=start, status="open")
    # Only a test payment: the link is not converted into money.
    paid(
        location,
        amount="1000.00",
        paid_at=start + timedelta(minutes=5),
        link_at=start,
        is_test=True,
    )
    # First link issued before the period: it belongs to that earlier period.
    paid(location, amount="1000.00", paid_at=days_ago(2), link_at=days_ago(60))

    html = owner.get("/panel/dashboard/").content.decode()

    assert _figure(html, "dash-conversion") == "50 %"
    assert "оплачено 2 из 4 сделок со ссылками" in html
    assert _figure(html, "dash-median") == "2 ч 0 мин"


def test_outstanding_prepayments_near_or_past_service(in_network, owner):  # noqa: F811
    location = shop(merchant_login="due").partner.locations.get()
    now = timezone.now()
    soon = paid(
        location,
        amount="1500.00",
        total="5000.00",
        status="partially_paid",
        paid_at=days_ago(3),
        service_date=now + timedelta(days=1),
        title="Скоро",
    )
    past = paid(
        location,
        amount="1000.00",
        total="3000.00",
        status="partially_paid",
        paid_at=days_ago(9),
        service_date=now - timedelta(days=2),
        title="Прошла",
    )
    paid(
        location,
        amount="1500.00",
        total="5000.00",
        status="partially_paid",
        paid_at=days_ago(1),
        service_date=now + timedelta(days=20),
        title="Нескоро",
    )
    paid(
        location,
        amount="5000.00",
        status="paid",
        paid_at=days_ago(1),
        service_date=now + timedelta(hours=5),
        title="Оплачена",
    )

    response = owner.get("/panel/dashboard/")
    html = response.content.decode()

    assert _figure(html, "dash-outstanding") == "5\xa0500,00 ₽"
    shown = response.context["dashboard"].outstanding.deals
    assert [d.pk for d in shown] == [past.pk, soon.pk]
    assert "Нескоро" not in html and "Оплачена</a>" not in html


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"paid_from": "2026-05-10", "paid_to": "2026-05-01"}, "Начало периода позже его конца."),
        ({"paid_from": "2019-01-01", "paid_to": "2026-01-01"}, "длиннее трёх лет"),
        ({"paid_from": "2024-01-01", "paid_to": "2026-01-01", "grain": "day"}, "сгруппируйте"),
        ({"paid_from": "31.02.2026"}, "Введите правильную дату."),
        ({"grain": "hour"}, "Выберите корректный вариант"),
        ({"partner": "00000000-0000-0000-0000-000000000001"}, "Такого партнёра в сети нет."),
        ({"location": "not-a-uuid"}, "Такой локации в сети нет."),
        ({"paid_to": "9999-12-31"}, "Дата вне допустимого диапазона"),
        ({"paid_from": "0001-01-01", "paid_to": "0001-01-02"}, "Дата вне допустимого диапазона"),
    ],
)
def test_bad_filters_answer_a_russian_error(in_network, owner, params, message):  # noqa: F811
    response = owner.get("/panel/dashboard/", params)

    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="dashboard-errors"' in html and message in html
    assert 'id="dash-turnover"' not in html


def test_another_networks_partner_is_refused(in_network, net_b, owner, network_money):  # noqa: F811
    from django_tenants.utils import tenant_context

    with tenant_context(net_b.network):
        foreign = shop(merchant_login="foreign").partner
    response = owner.get("/panel/dashboard/", {"partner": str(foreign.pk)})

    assert response.status_code == 400
    assert "Такого партнёра в сети нет." in response.content.decode()


def test_every_role_that_sees_payments_sees_the_dashboard(in_network, network_money):
    for persona in (in_network.owner, in_network.admin, in_network.viewer):
        client = persona.browser_client()
        assert client.get("/panel/dashboard/").status_code == 200
        assert client.get("/panel/payments/").status_code == 200
    anonymous = in_network.anonymous().get("/panel/dashboard/")
    assert anonymous.status_code == 302 and "/panel/login/" in anonymous["Location"]


def test_network_b_sees_none_of_a(in_network, owner_b, network_money):
    html = owner_b.browser_client().get("/panel/dashboard/").content.decode()

    assert _figure(html, "dash-turnover") == "0,00 ₽"
    assert network_money["kazan"].name not in html


def test_home_shows_the_last_30_days(in_network, owner, network_money):  # noqa: F811
    html = owner.get("/panel/").content.decode()

    assert _figure(html, "dash-turnover") == "8\xa0900,50 ₽"
    assert 'id="turnover-chart"' in html and 'href="/panel/dashboard/"' in html
    assert 'id="dash-partners"' not in html  # the lists are the dashboard page's


def test_chart_is_accessible_svg_without_inline_style(in_network, owner, network_money):  # noqa: F811
    html = owner.get("/panel/dashboard/").content.decode()
    svg = html[
        html.index('<svg class="column-chart') : html.index(
            "</svg>", html.index('id="turnover-chart"')
        )
    ]

    assert (
        'role="img"' in svg and 'aria-labelledby="turnover-chart-title turnover-chart-desc"' in svg
    )
    assert "<title" in svg and "<desc" in svg
    assert "style=" not in html and "<script>" not in html
    # Geometry is written with a decimal point whatever the language (no "12,5" in attributes).
    assert not re.search(r'(?:x|y|width|height)="[0-9]+,[0-9]', svg)
    assert len(re.findall(r'<rect class="chart-bar"', svg)) == 30
    assert 'id="turnover-table"' in html


def test_queries_do_not_grow_with_payments(in_network, owner, network_money):  # noqa: F811
    owner.get("/panel/dashboard/")
    before = count_queries(lambda: owner.get("/panel/dashboard/"))
    location = network_money["ufa_a"]
    for n in range(15):
        paid(
            location,
            amount="10.00",
            paid_at=days_ago(n % 7),
            status="partially_paid",
            total="20.00",
            service_date=timezone.now(),
        )

    after = count_queries(lambda: owner.get("/panel/dashboard/"))

    assert after == before


def test_past_the_first_partners_the_rest_is_one_row(in_network, owner, network_money, monkeypatch):  # noqa: F811
    monkeypatch.setattr("franchise_platform.panel.dashboard.SHARES_SHOWN", 1)

    response = owner.get("/panel/dashboard/")
    partners = response.context["dashboard"].partners

    assert [(s.name, s.amount, s.rest) for s in partners] == [
        (network_money["kazan"].name, Decimal("8000.50"), 0),
        ("", Decimal("900.00"), 1),
    ]
    assert "И ещё 1" in response.content.decode()
