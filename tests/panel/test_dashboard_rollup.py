"""The dashboard's daily rollup (reporting/rollup.py): closed days come from it, today from the
payments, and the figures still equal the payments list's, also after payments, test payments,
refunds and deal moves that came after the rollup was built (once the beat's refresh has run)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from franchise_platform.accounts.models import Role
from franchise_platform.accounts.services import user_create
from franchise_platform.payments.models import Deal, Payment, Refund
from franchise_platform.reporting.models import DailyTurnover
from franchise_platform.reporting.rollup import rolled_through, turnover_rollup_refresh
from tests.factories import LocationFactory, shop
from tests.panel_payments.conftest import owner  # noqa: F401  (fixture)

from .test_dashboard import _figure, _list_figures, days_ago, network_money, paid  # noqa: F401

pytestmark = pytest.mark.django_db

PASSWORD = "Franchisee-pass-2026"


def _since(days: int) -> str:
    return (timezone.localdate() - timedelta(days=days)).isoformat()


def _agrees(client, params) -> None:
    """The dashboard's turnover and count are the payments list's, and its buckets, partners and
    locations each add up to them."""
    response = client.get("/panel/dashboard/", params)
    assert response.status_code == 200
    html = response.content.decode()
    list_total, list_count = _list_figures(client, params)
    assert _figure(html, "dash-turnover") == list_total, params
    assert re.match(rf"{list_count}\b", _figure(html, "dash-count")), params
    dashboard = response.context["dashboard"]
    total = dashboard.totals.amount
    assert sum((b.amount for b in dashboard.series), Decimal(0)) == total
    assert sum((s.amount for s in dashboard.partners), Decimal(0)) == total
    assert sum((s.amount for s in dashboard.locations), Decimal(0)) == total
    assert sum(b.count for b in dashboard.series) == dashboard.totals.count


def _cases(money) -> list[dict[str, str]]:
    return [
        {"paid_from": _since(89)},
        {"paid_from": _since(364), "grain": "month"},
        {"paid_from": _since(364), "grain": "week"},
        {"paid_from": _since(40), "grain": "week", "location": str(money["ufa_a"].pk)},
        {"paid_from": _since(364), "grain": "week", "partner": str(money["kazan"].pk)},
        {"paid_from": _since(89), "location": str(money["ufa_a"].pk)},
        {"paid_from": _since(89), "location": str(money["kazan_b"].pk)},
        {"paid_from": _since(5), "paid_to": _since(1)},
        {"paid_from": _since(20), "partner": str(money["kazan"].pk)},
    ]


def test_closed_days_come_from_the_rollup_and_agree_with_the_list(in_network, owner, network_money):  # noqa: F811
    result = turnover_rollup_refresh()

    yesterday = timezone.localdate() - timedelta(days=1)
    assert result.through_day == yesterday == rolled_through()
    # Every payment before today is rolled up (test ones apart); today's is not.
    rolled = DailyTurnover.objects.filter(is_test=False)
    assert sum(r.count for r in rolled) == 5
    assert not DailyTurnover.objects.filter(day=timezone.localdate()).exists()
    for params in _cases(network_money):
        _agrees(owner, params)
    html = owner.get("/panel/dashboard/").content.decode()
    assert _figure(html, "dash-turnover") == "8\xa0900,50 ₽"  # 1,500.00 of it paid today (live)
    assert "1 тестовый платёж на 777,00 ₽" in html


def test_a_refresh_without_changes_rebuilds_nothing(in_network, network_money):  # noqa: F811
    """Deals saved within LOOK_BACK of a refresh are looked at again by the next one; after that,
    a refresh rebuilds only a day that has just closed."""
    now = timezone.now()
    turnover_rollup_refresh(now=now)
    turnover_rollup_refresh(now=now + timedelta(minutes=20))

    later = now + timedelta(minutes=40)
    closed = (timezone.localdate(later) - timezone.localdate(now + timedelta(minutes=20))).days
    assert turnover_rollup_refresh(now=later).days_rebuilt == closed


def test_changes_after_the_rollup_was_built_agree_after_the_refresh(
    in_network,
    owner,  # noqa: F811
    network_money,  # noqa: F811
):
    turnover_rollup_refresh()
    kazan_a = (
        network_money["kazan"].locations.order_by("name").exclude(pk=network_money["kazan_b"].pk)[0]
    )
    # Today's payment counts at once (today is computed live).
    paid(kazan_a, amount="10.00", paid_at=timezone.now())
    _agrees(owner, {"paid_from": _since(89)})
    # A payment recorded late for a closed day (a lost callback found by reconciliation), a test
    # payment, a refund of an old payment and a deal moved to another location.
    paid(network_money["ufa_a"], amount="333.00", paid_at=days_ago(6))
    paid(network_money["kazan_b"], amount="55.00", paid_at=days_ago(4), is_test=True)
    refunded = Payment.objects.get(amount=Decimal("2500.50"))
    Refund.objects.create(
        payment=refunded,
        deal=refunded.deal,
        amount=Decimal("500.00"),
        status="finished",
        source="cabinet",
        receipt="manual",
    )
    deal = refunded.deal
    deal.refunded = Decimal("500.00")
    deal.save()
    moved = Deal.objects.get(payments__amount=Decimal("4000.00"))
    moved.location = network_money["ufa_a"]
    moved.save()

    result = turnover_rollup_refresh()

    assert result.days_rebuilt >= 3
    for params in _cases(network_money):
        _agrees(owner, params)
    by_location = {
        s.key: s.amount
        for s in owner.get("/panel/dashboard/", {"paid_from": _since(89)})
        .context["dashboard"]
        .locations
    }
    assert by_location[str(network_money["ufa_a"].pk)] == Decimal("5933.00")
    assert str(network_money["kazan_b"].pk) not in by_location


def test_a_week_across_rolled_days_and_today_is_one_bucket(in_network, owner, network_money):  # noqa: F811
    turnover_rollup_refresh()
    params = {"paid_from": _since(27), "grain": "week"}

    dashboard = owner.get("/panel/dashboard/", params).context["dashboard"]

    this_week = timezone.localdate() - timedelta(days=timezone.localdate().weekday())
    assert [b.start for b in dashboard.series].count(this_week) == 1
    _agrees(owner, params)


def test_partner_user_sees_only_its_partner_from_the_rollup(in_network, network_money):  # noqa: F811
    kazan = network_money["kazan"]
    user = user_create(
        email="franchisee@kazan.test", password=PASSWORD, role=Role.PARTNER, partner_id=kazan.pk
    )
    client = Client(HTTP_HOST=in_network.host)
    client.force_login(user)
    turnover_rollup_refresh()

    response = client.get("/panel/dashboard/", {"paid_from": _since(89)})

    dashboard = response.context["dashboard"]
    assert dashboard.totals.amount == Decimal("8000.50")
    assert [s.key for s in dashboard.partners] == [str(kazan.pk)]
    assert str(network_money["ufa_a"].pk) not in {s.key for s in dashboard.locations}
    assert "900,00" not in _figure(response.content.decode(), "dash-turnover")
    _agrees(client, {"paid_from": _since(89)})


def test_an_unrolled_network_is_computed_live(in_network, owner, network_money):  # noqa: F811
    """Before the first refresh (a new network, a lost beat) nothing is missing."""
    assert rolled_through() is None
    _agrees(owner, {"paid_from": _since(89)})
    LocationFactory(partner=shop(merchant_login="empty").partner)
    _agrees(owner, {"paid_from": _since(364), "grain": "month"})


@pytest.mark.parametrize(
    ("since", "until", "through", "months", "edges"),
    [
        # Inside one month: days only.
        ("2026-03-05", "2026-03-20", "2026-06-30", None, [("2026-03-05", "2026-03-20")]),
        # Whole months between two partial ones.
        (
            "2026-01-15",
            "2026-04-10",
            "2026-06-30",
            ("2026-02-01", "2026-03-01"),
            [("2026-01-15", "2026-01-31"), ("2026-04-01", "2026-04-10")],
        ),
        # Up to the rollup's last day: its month's row holds no later day, so it is whole.
        ("2026-01-01", "2026-06-17", "2026-06-17", ("2026-01-01", "2026-06-01"), []),
        # Short of the last day: that month's row would hold too much.
        (
            "2026-05-01",
            "2026-06-10",
            "2026-06-17",
            ("2026-05-01", "2026-05-01"),
            [("2026-06-01", "2026-06-10")],
        ),
    ],
)
def test_rolled_days_split_into_whole_months_and_the_days_around(
    since, until, through, months, edges
):
    from datetime import date

    from franchise_platform.reporting.selectors import split_by_months

    def day(text):
        return date.fromisoformat(text)

    got_months, got_edges = split_by_months(day(since), day(until), day(through))

    assert got_months == (tuple(map(day, months)) if months else None)
    assert got_edges == [(day(a), day(b)) for a, b in edges]


def test_the_months_rebuilt_follow_the_days(in_network, network_money):  # noqa: F811
    from franchise_platform.reporting.models import MonthlyTurnover

    turnover_rollup_refresh()

    for month in MonthlyTurnover.objects.values_list("month", flat=True).distinct():
        days = DailyTurnover.objects.filter(day__year=month.year, day__month=month.month)
        monthly = MonthlyTurnover.objects.filter(month=month)
        assert sum(r.amount for r in days) == sum(r.amount for r in monthly)
        assert sum(r.count for r in days) == sum(r.count for r in monthly)
    assert MonthlyTurnover.objects.exists()


def test_conversion_from_the_funnel_equals_the_live_one(in_network, network_money):  # noqa: F811
    """Links → paid and the median wait read from the rollup's funnel rows (closed days) and live
    (today) equal the figures computed from the links and payments alone, also after a deal
    linked on a closed day is paid and another one moved."""
    from franchise_platform.panel.dashboard import DashboardQuery, _conversion

    location = network_money["ufa_a"]
    waiting = paid(location, amount="300.00", paid_at=None, link_at=days_ago(5, hour=9))
    paid(location, amount="200.00", paid_at=days_ago(3, hour=15), link_at=days_ago(4, hour=9))
    paid(location, amount="100.00", paid_at=timezone.now(), link_at=days_ago(0, hour=0))
    today = timezone.localdate()
    queries = [
        DashboardQuery(since=today - timedelta(days=89), until=today),
        DashboardQuery(since=today - timedelta(days=9), until=today - timedelta(days=1)),
        DashboardQuery(
            since=today - timedelta(days=9), until=today, partner_id=str(location.partner_id)
        ),
        DashboardQuery(since=today - timedelta(days=9), until=today, location_id=str(location.pk)),
    ]
    turnover_rollup_refresh()
    for query in queries:
        assert _conversion(query, rolled_through()) == _conversion(query, None), query

    # The deal linked five days ago is paid now; the refresh brings its funnel row up to date.
    invoice_deal = Deal.objects.get(pk=waiting.pk)
    paid_now = paid(location, amount="1.00", paid_at=timezone.now())
    Payment.objects.filter(deal=paid_now).update(deal=invoice_deal)
    invoice_deal.save()
    turnover_rollup_refresh()
    for query in queries:
        assert _conversion(query, rolled_through()) == _conversion(query, None), query
    assert _conversion(queries[1], rolled_through()).paid >= 2


@pytest.mark.parametrize(
    ("since", "until", "through", "weeks", "edges"),
    [
        # Wednesday to the next Tuesday: no whole week.
        ("2026-06-03", "2026-06-09", "2026-06-30", None, [("2026-06-03", "2026-06-09")]),
        (
            "2026-06-03",
            "2026-06-24",
            "2026-06-30",
            ("2026-06-08", "2026-06-15"),
            [("2026-06-03", "2026-06-07"), ("2026-06-22", "2026-06-24")],
        ),
        # Up to the rollup's last day (a Wednesday): that week's row is whole for the period.
        ("2026-06-01", "2026-06-17", "2026-06-17", ("2026-06-01", "2026-06-15"), []),
    ],
)
def test_rolled_days_split_into_whole_weeks(since, until, through, weeks, edges):
    from datetime import date

    from franchise_platform.reporting.selectors import split_by_blocks

    def day(text):
        return date.fromisoformat(text)

    got_weeks, got_edges = split_by_blocks(day(since), day(until), day(through), "week")

    assert got_weeks == (tuple(map(day, weeks)) if weeks else None)
    assert got_edges == [(day(a), day(b)) for a, b in edges]


def test_the_weeks_rebuilt_follow_the_days(in_network, network_money):  # noqa: F811
    from franchise_platform.reporting.models import WeeklyTurnover

    turnover_rollup_refresh()

    for week in WeeklyTurnover.objects.values_list("week", flat=True).distinct():
        days = DailyTurnover.objects.filter(day__gte=week, day__lt=week + timedelta(days=7))
        weekly = WeeklyTurnover.objects.filter(week=week)
        assert week.weekday() == 0
        assert sum(r.amount for r in days) == sum(r.amount for r in weekly)
        assert sum(r.count for r in days) == sum(r.count for r in weekly)
    assert WeeklyTurnover.objects.exists()
