"""The dashboard in a real Chromium at desktop (1280) and phone (390) widths: the home page's
summary, the filters, a bad period answered in Russian, and the way to the payments list whose total
is the dashboard's turnover. Screenshots go to tests/artifacts/panel/ (dashboard-*.png)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from tests.factories import LocationFactory, shop
from tests.panel.conftest import PHONE

from .test_dashboard import days_ago, paid

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


@pytest.fixture(scope="module")
def money(browser_network, django_db_blocker):
    """Committed in the module's network: two partners, a few weeks of payments, a test payment,
    one prepayment whose service is tomorrow."""
    with django_db_blocker.unblock(), tenant_context(browser_network.network):
        alpha = shop(merchant_login="alpha", partner__name="ООО «Альфа-Квест»")
        beta = shop(merchant_login="beta", partner__name="ИП Бета")
        alpha_b = LocationFactory(partner=alpha.partner, name="Квест «Подвал»")
        for n, (location, amount) in enumerate(
            [
                (alpha.partner.locations.first(), "4500.00"),
                (alpha_b, "3200.00"),
                (beta.partner.locations.get(), "2750.50"),
            ]
            * 6
        ):
            paid(location, amount=amount, paid_at=days_ago(n * 2), link_at=days_ago(n * 2, hour=9))
        paid(alpha_b, amount="990.00", paid_at=days_ago(1), is_test=True)
        paid(
            beta.partner.locations.get(),
            amount="1500.00",
            total="5000.00",
            status="partially_paid",
            paid_at=days_ago(4),
            service_date=timezone.now() + timedelta(days=1),
            title="Квест на день рождения",
        )
    return {"alpha": alpha.partner, "beta": beta.partner}


def _text(page, selector: str) -> str:
    return " ".join(page.inner_text(selector).split())


def test_owner_reads_the_dashboard_and_filters_it(panel_site, money, shoot):
    page = panel_site.new_page()
    panel_site.login(page, panel_site.net.owner)

    # The home page carries the last 30 days.
    page.wait_for_selector("#home-dashboard #turnover-chart")
    home_total = _text(page, "#dash-turnover")
    shoot(page, "dashboard-00-home")

    page.click("#open-dashboard")
    page.wait_for_url(re.compile(r".*/panel/dashboard/$"))
    assert _text(page, "#dash-turnover") == home_total
    # The default period is written into the date fields.
    assert page.input_value("input[name=paid_to]") == timezone.localdate().isoformat()
    assert page.locator("#turnover-chart rect.chart-bar").count() == 30
    assert page.locator("#dash-partners tbody tr").count() == 2
    assert "990,00" in _text(page, "#dash-tests")  # shown apart, not in the turnover
    assert "Квест на день рождения" in _text(page, "#dash-outstanding-deals")
    # The chart has an accessible name and a table with the same numbers.
    assert page.get_attribute("#turnover-chart", "role") == "img"
    page.click(".dash-table summary")
    assert page.locator("#turnover-table tbody tr").count() == 30
    shoot(page, "dashboard-01-30-days")

    # One partner, by week, over ninety days.
    page.select_option("select[name=partner]", label="ИП Бета")
    page.select_option("select[name=grain]", value="week")
    page.fill("input[name=paid_from]", (timezone.localdate() - timedelta(days=89)).isoformat())
    page.click("#dashboard-filters button[type=submit]")
    page.wait_for_url(re.compile(r".*partner=.*grain=week.*"))
    assert _text(page, "#dash-turnover") == "18 003,00 ₽"
    assert page.locator("#dash-partners tbody tr").count() == 1
    assert page.eval_on_selector("select[name=partner]", "s => s.selectedOptions[0].text") == (
        "ИП Бета"
    )
    assert 13 <= page.locator("#turnover-chart rect.chart-bar").count() <= 14
    assert "Оборот по неделям" in _text(page, "#turnover-heading")
    shoot(page, "dashboard-02-partner-by-week")

    # The turnover's card opens the payments list with the same filter and the same total.
    total = _text(page, "#dash-turnover")
    page.click("#dash-turnover-link")
    page.wait_for_selector("#payments")
    assert _text(page, "#payments-total") == total
    page.context.close()


def test_a_backwards_period_is_explained_in_russian(panel_site, money, shoot):
    page = panel_site.new_page()
    panel_site.login(page, panel_site.net.viewer)  # every role that sees payments

    page.goto(panel_site.url("/panel/dashboard/?paid_from=2026-06-10&paid_to=2026-06-01"))

    assert "Начало периода позже его конца." in _text(page, "#dashboard-errors")
    assert page.locator("#dash-turnover").count() == 0
    shoot(page, "dashboard-03-bad-period")
    page.context.close()


def test_the_phone_layout_does_not_overflow(panel_site, money):
    page = panel_site.new_page()
    panel_site.login(page, panel_site.net.owner)
    page.set_viewport_size(PHONE)
    page.goto(panel_site.url("/panel/dashboard/"))
    page.wait_for_selector("#turnover-chart")

    # The page itself fits the phone; only the time chart scrolls sideways inside its card.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    scroller = page.eval_on_selector(".dash-chart-scroll", "e => [e.scrollWidth, e.clientWidth]")
    assert scroller[0] > scroller[1]
    # It starts scrolled to the newest bucket: the last bar is on the screen.
    last = page.eval_on_selector_all(
        "#turnover-chart rect.chart-bar", "bars => bars[bars.length - 1].getBoundingClientRect()"
    )
    assert last["left"] >= 0 and last["right"] <= PHONE["width"]
    page.context.close()
