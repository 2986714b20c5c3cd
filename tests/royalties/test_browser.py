"""The statement page in a real Chromium: the owner opens it from the royalties page, approves
it and sends it; screenshots at desktop and phone width (tests/artifacts/panel/royalty-*)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core import mail
from django_tenants.utils import tenant_context

from franchise_platform.royalties.models import RoyaltyStatement
from franchise_platform.royalties.services import statement_draft

from .helpers import msk, partner_with_shop, pay, refund, set_rule

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


@pytest.fixture(scope="module")
def statement(browser_network, django_db_blocker):
    """Committed (the live server must see it) into the module's network, dropped with it."""
    with django_db_blocker.unblock(), tenant_context(browser_network.network):
        account = partner_with_shop("ИП Сафиуллин Рустем Ильдарович")
        set_rule(
            account.partner,
            kind="tiers",
            tiers=[("0", "6"), ("500000", "4")],
            minimum=Decimal("5000"),
            email="rustem@example.com",
        )
        big = pay(account, "480000.00", msk(2026, 11, 3), title="Корпоратив «Тайная комната»")
        pay(account, "125500.50", msk(2026, 11, 14), title="Квест «Побег из Алькатраса»")
        pay(account, "9000.00", msk(2026, 11, 15), is_test=True, title="Проверка магазина")
        refund(big, "3500.00", msk(2026, 11, 20))
        return statement_draft(partner_id=account.partner_id, period=msk(2026, 11, 1).date())


def test_owner_reviews_approves_and_sends_a_statement(panel_site, shoot, statement):
    page = panel_site.new_page()
    panel_site.login(page, panel_site.net.owner)
    page.click("nav >> text=Роялти")
    page.wait_for_selector("#statements")
    shoot(page, "royalty-overview")
    page.click("#statements >> text=ИП Сафиуллин Рустем Ильдарович")
    page.wait_for_selector("#statement-lines")
    # 480000 + 125500.50 - 3500 = 602000.50; 500000 × 6 % + 102000.50 × 4 % = 34080.02
    assert page.inner_text("#statement-base").replace("\xa0", " ") == "602 000,50 ₽"
    assert page.inner_text("#statement-amount").replace("\xa0", " ") == "34 080,02 ₽"
    assert page.locator("#statement-lines tbody tr").count() == 3  # the test payment is not there
    shoot(page, "royalty-statement-draft")

    page.click("#approve")
    page.wait_for_selector("#send")
    page.click("#send")
    page.wait_for_selector("text=Ведомость отправлена партнёру.")
    shoot(page, "royalty-statement-sent")
    with tenant_context(panel_site.net.network):
        sent = RoyaltyStatement.objects.get(pk=statement.pk)
    assert sent.status == "approved" and sent.sent_to == "rustem@example.com"
    assert [m.to for m in mail.outbox] == [["rustem@example.com"]]
    assert re.search(r"/panel/royalties/statements/[0-9a-f-]+/$", page.url)
    page.context.close()
