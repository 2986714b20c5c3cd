"""A franchisee's window in a real Chromium at desktop (1280) and phone (390) widths: a partner
user signs in, sees its own money and shop, and nothing of the other partner; the network's pages
are missing from its navigation and refused if typed. Screenshots go to tests/artifacts/panel/
(partner-window-*.png)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from franchise_platform.accounts.models import Role
from franchise_platform.accounts.services import user_create
from franchise_platform.royalties.services import statement_draft
from tests.factories import shop
from tests.personas import PASSWORD, Persona
from tests.royalties.helpers import set_rule

from .test_dashboard import days_ago, paid

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


@pytest.fixture(scope="module")
def franchisee(browser_network, django_db_blocker) -> dict:
    """Committed in the module's network: two partners with payments, a partner user of the first."""
    net = browser_network
    with django_db_blocker.unblock(), tenant_context(net.network):
        kazan = shop(merchant_login="kazan-shop", partner__name="ИП Казанцев Олег")
        ufa = shop(merchant_login="ufa-shop", partner__name="ИП Уфимцев Павел")
        for n, amount in enumerate(["4500.00", "3200.00", "1500.00"]):
            paid(
                kazan.partner.locations.get(),
                amount=amount,
                paid_at=days_ago(n + 1),
                title=f"Казань, квест №{n + 1}",
            )
        paid(ufa.partner.locations.get(), amount="9900.00", paid_at=days_ago(1), title="Уфа, квест")
        # Royalty statements of both partners, for a month before the dashboard's 30 days.
        last_month = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
        period = (last_month - timedelta(days=1)).replace(day=1)
        for account in (kazan, ufa):
            paid(account.partner.locations.get(), amount="1000.00", paid_at=_in(period))
            set_rule(account.partner, kind="percent", percent=Decimal("10"))
            statement_draft(partner_id=account.partner.pk, period=period)
        email = "franchisee@kazan.test"
        user_create(email=email, password=PASSWORD, role=Role.PARTNER, partner_id=kazan.partner.pk)
    return {
        "persona": Persona(email, PASSWORD, Role.PARTNER, "", net.network),
        "kazan": kazan.partner,
        "ufa": ufa.partner,
    }


def _in(period: date) -> datetime:
    return timezone.make_aware(datetime.combine(period.replace(day=1), time(12)))


def _text(page, selector: str) -> str:
    return " ".join(page.inner_text(selector).split())


def test_franchisee_sees_its_own_window_only(panel_site, franchisee, shoot):
    page = panel_site.new_page()
    panel_site.login(page, franchisee["persona"])

    assert "ИП Казанцев Олег" in _text(page, "#partner-window")
    assert _text(page, "#dash-turnover") == "9 200,00 ₽"  # its last 30 days
    nav = _text(page, ".nav")
    for hidden in ("Партнёры", "Локации", "Настройки", "Интеграции", "Журнал", "API-токены"):
        assert hidden not in nav
    assert "Уфа" not in page.content() and "Уфимцев" not in page.content()
    shoot(page, "partner-window-00-home")

    page.click("#open-dashboard")
    page.wait_for_url(re.compile(r".*/panel/dashboard/$"))
    assert _text(page, "#dash-turnover") == "9 200,00 ₽"
    assert page.locator("#dash-partners tbody tr").count() == 1
    assert "Уфа" not in page.content() and "Уфимцев" not in page.content()
    shoot(page, "partner-window-01-dashboard")

    page.click(".nav >> text=Роялти")
    page.wait_for_url(re.compile(r".*/panel/royalties/$"))
    assert "Уфимцев" not in page.content()
    assert page.locator("#statements tbody tr").count() == 1
    page.click("#statements a")
    page.wait_for_url(re.compile(r".*/panel/royalties/statements/.+/$"))
    assert "Уфимцев" not in page.content()
    shoot(page, "partner-window-02-statement")

    page.click(".nav >> text=Платежи")
    page.wait_for_url(re.compile(r".*/panel/payments/$"))
    assert page.locator("#payments tbody tr").count() == 4
    assert "Уфа" not in page.content()
    shoot(page, "partner-window-03-payments")

    page.click(".nav >> text=Мой магазин")
    page.wait_for_url(re.compile(rf".*/panel/partners/{franchisee['kazan'].pk}/$"))
    assert page.locator("form[action$='/shop-check/'] button").count() == 1
    shoot(page, "partner-window-04-shop")

    # Typed by hand: another partner's page is the panel's 404, a network page is refused.
    other = page.goto(panel_site.url(f"/panel/partners/{franchisee['ufa'].pk}/"))
    assert other is not None and other.status == 404
    settings = page.goto(panel_site.url("/panel/settings/"))
    assert settings is not None and settings.status == 403
    shoot(page, "partner-window-05-refused")
