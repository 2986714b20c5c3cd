"""Screenshots for issue 18, looked at by a person: the owner's dashboard (closed days from the
rollup, today live), a royalty statement, the franchisee's window and a background export's page,
each at desktop (1280) and phone (390) widths, in tests/artifacts/screenshots/ (not committed)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from franchise_platform.accounts.models import Role
from franchise_platform.accounts.services import user_create
from franchise_platform.reporting.models import ExportJob
from franchise_platform.reporting.rollup import turnover_rollup_refresh
from franchise_platform.royalties.models import RoyaltyStatement
from tests.factories import LocationFactory, shop
from tests.panel.conftest import DESKTOP, PHONE
from tests.personas import PASSWORD, Persona

from .test_dashboard import days_ago, paid
from .test_partner_browser import _in

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"


@pytest.fixture(scope="module")
def seeded(browser_network, django_db_blocker) -> dict[str, Any]:
    from datetime import timedelta

    from franchise_platform.royalties.services import statement_draft
    from tests.royalties.helpers import set_rule

    net = browser_network
    with django_db_blocker.unblock(), tenant_context(net.network):
        kazan = shop(merchant_login="kazan-s", partner__name="ИП Казанцев Олег")
        ufa = shop(merchant_login="ufa-s", partner__name="ООО «Уфа-Квест»")
        cellar = LocationFactory(partner=kazan.partner, name="Квест «Подвал»")
        spots = [kazan.partner.locations.first(), cellar, ufa.partner.locations.get()]
        for n in range(40):
            paid(
                spots[n % 3],
                amount=f"{1500 + (n % 7) * 450}.00",
                paid_at=days_ago(n % 25, hour=12 + n % 9),
                link_at=days_ago(n % 25, hour=9),
            )
        paid(cellar, amount="990.00", paid_at=days_ago(2), is_test=True)
        last_month = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
        for account in (kazan, ufa):
            paid(account.partner.locations.first(), amount="12000.00", paid_at=_in(last_month))
            set_rule(account.partner, kind="percent", percent=Decimal("7"))
            statement_draft(partner_id=account.partner.pk, period=last_month)
        turnover_rollup_refresh()
        job = ExportJob.objects.create(
            requested_by=net.owner.user(),
            kind="payments",
            state="running",
            rows_total=48_250,
            rows_done=21_000,
        )
        statement = RoyaltyStatement.objects.filter(partner=kazan.partner).get()
        email = "franchisee@kazan-s.test"
        user_create(email=email, password=PASSWORD, role=Role.PARTNER, partner_id=kazan.partner.pk)
    return {
        "persona": Persona(email, PASSWORD, Role.PARTNER, "", net.network),
        "statement": statement,
        "job": job,
    }


def _shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SCREENSHOTS / f"{name}-1280.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-390.png"), full_page=True)
    # Nothing may stick out sideways at phone width (the page scrolls only down).
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.set_viewport_size(DESKTOP)
    assert overflow <= 1, f"{name}: {overflow}px wider than the phone"


def test_owner_and_franchisee_screens(panel_site, seeded):
    page = panel_site.new_page()
    panel_site.login(page, panel_site.net.owner)

    page.goto(panel_site.url("/panel/dashboard/"))
    assert re.search(r"\d", page.inner_text("#dash-turnover"))
    _shoot(page, "01-owner-dashboard-30-days")
    page.goto(panel_site.url("/panel/dashboard/?paid_from=2026-01-01&grain=month"))
    _shoot(page, "02-owner-dashboard-by-month")
    page.goto(panel_site.url(f"/panel/royalties/statements/{seeded['statement'].pk}/"))
    assert "Казанцев" in page.content()
    _shoot(page, "03-owner-royalty-statement")
    page.goto(panel_site.url(f"/panel/exports/{seeded['job'].pk}/"))
    assert "21000 из 48250" in page.inner_text("#export-rows").replace("\xa0", "")
    _shoot(page, "06-owner-export-in-progress")

    franchisee = panel_site.new_page()
    panel_site.login(franchisee, seeded["persona"])
    assert "Уфа" not in franchisee.content()
    _shoot(franchisee, "04-franchisee-home")
    franchisee.goto(panel_site.url("/panel/dashboard/"))
    assert "Уфа-Квест" not in franchisee.content()
    assert "Дашборд партнёра" in franchisee.inner_text("h1")
    _shoot(franchisee, "05-franchisee-dashboard")
