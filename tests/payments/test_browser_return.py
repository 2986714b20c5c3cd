"""The buyer's return page in Chromium (issue 16, item 4.2): back from YooKassa's page it says the
payment is being confirmed; its script polls our status address and the page shows the payment
once the verified notification has been applied, with no Content-Security-Policy violation."""

# ruff: noqa: F811  (the browser fixtures are imported, then requested by name)
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import override_settings
from django_tenants.utils import tenant_context

from franchise_platform.flows.payment import callback_apply
from franchise_platform.payments.models import CallbackEvent, Invoice, LinkKind
from tests.fakes.yookassa import FakeYooKassa
from tests.panel.conftest import (  # noqa: F401  (the panel's browser fixtures)
    browser_network,
    chromium,
    csp_clean,
    live_server_port,
)

from .helpers import active_link, deal_with_links, visit
from .yookassa_helpers import SECRET_KEY, yookassa_options, yookassa_shop

pytestmark = pytest.mark.browser


class _Settings:
    BILLING_PROVIDER_OPTIONS: dict[str, Any]


@pytest.fixture(scope="module")
def returned(browser_network, django_db_blocker) -> Iterator[dict[str, Any]]:
    """A committed YooKassa payment waiting at the fake, and the buyer's return address."""
    from django.conf import settings

    fake = FakeYooKassa()
    holder = _Settings()
    holder.BILLING_PROVIDER_OPTIONS = dict(settings.BILLING_PROVIDER_OPTIONS)
    yookassa_options(holder, fake)
    with override_settings(BILLING_PROVIDER_OPTIONS=holder.BILLING_PROVIDER_OPTIONS):
        net = browser_network
        with django_db_blocker.unblock(), tenant_context(net.network):
            account = yookassa_shop(fake, shop_id="300900")
            assert account.provider_secrets == {"secret_key": SECRET_KEY}
            deal = deal_with_links(account.partner.locations.get())
            visit(net.anonymous(), active_link(deal, LinkKind.PREPAYMENT))
            invoice = Invoice.objects.get(deal=deal)
            return_url = fake.payment(invoice.provider_reference)["confirmation"]["return_url"]
        yield {"fake": fake, "account": account, "invoice": invoice, "return_url": return_url}


def test_the_return_page_shows_the_payment_once_the_notification_is_applied(
    returned, browser_network, live_server_port, chromium, django_db_blocker
):
    # The live server's thread reads the committed rows: the test holds the database open for it.
    with django_db_blocker.unblock():
        _walk(returned, browser_network, live_server_port, chromium)


def _walk(returned, browser_network, live_server_port, chromium):
    net, fake = browser_network, returned["fake"]
    account, invoice = returned["account"], returned["invoice"]
    split = urlsplit(returned["return_url"])
    page = chromium.new_context(locale="ru-RU").new_page()

    page.goto(f"http://{net.host}:{live_server_port}{split.path}?{split.query}")

    assert "Платёж подтверждается" in page.inner_text("h1")
    assert page.get_attribute("#return-state", "data-state") == "confirming"
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.wait_for_event("requestfinished", lambda r: "/return-status/" in r.url, timeout=15_000)
    assert page.inner_text("h1") == "Платёж подтверждается"  # still nothing recorded

    paid = fake.pay(invoice.provider_reference)
    with tenant_context(net.network):
        net.anonymous().post(
            f"/callbacks/yookassa/{account.partner_id}/notification/",
            data=json.dumps(fake.notification("payment.succeeded", paid)),
            content_type="application/json",
            REMOTE_ADDR="127.0.0.1",
        )
        callback_apply(event_id=str(CallbackEvent.objects.get(invoice_number=invoice.pk).pk))

    # The script reloads the page once our records say paid (a selector wait: CSP forbids eval).
    page.wait_for_selector('#return-state[data-state="paid"]', timeout=20_000)
    assert page.inner_text("h1") == "Спасибо, оплата получена"
    assert re.search(r"1\s?500,00 ₽", page.inner_text(".amount"))
    assert all(
        "/return-status/" in url or "/static/" in url or "/callbacks/" in url for url in asked
    )


def test_the_buyer_gives_an_email_in_chromium_and_goes_on_to_pay(
    returned, browser_network, live_server_port, chromium, django_db_blocker
):
    """The contact form in a real browser (CSRF cookie and all): the e-mail given, the buyer
    lands on YooKassa's page for a payment whose receipt goes to that address."""
    with django_db_blocker.unblock():
        net, fake = browser_network, returned["fake"]
        with tenant_context(net.network):
            account = yookassa_shop(fake, shop_id="300901", fiscalization=True)
            deal = deal_with_links(account.partner.locations.get(), lead=7301)
            token = active_link(deal, LinkKind.FULL).token
        page = chromium.new_context(locale="ru-RU").new_page()

        page.goto(f"http://{net.host}:{live_server_port}/pay/{token}")
        assert page.inner_text("h1") == "Куда отправить чек?"
        page.fill("input[name=email]", "not an address")
        page.click("button[type=submit]")
        assert "Похоже, в адресе ошибка" in page.inner_text("form")
        page.fill("input[name=email]", "anna@example.ru")
        # YooKassa's page is the in-process fake's, not served to the browser: the request for
        # it (after the refresh and our redirect) is the proof the buyer was sent on.
        checkout = re.compile(re.escape(fake.base_url) + r"/_fake/checkout/.+")
        with page.expect_request(checkout, timeout=15_000):
            page.click("button[type=submit]")

        bodies = [b for m, p, _q, b in fake.requests if m == "POST" and p == "/v3/payments"]
        assert json.loads(bodies[-1])["receipt"]["customer"] == {"email": "anna@example.ru"}
