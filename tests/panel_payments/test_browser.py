"""An owner in a real Chromium against a live server: deals filtered by status, a deal's history
with a refused notification, payments with CSV, the amoCRM page with a dead message retried, the
shop check, and the revoked-access banner. Every new page is saved under tests/artifacts/panel/ at
desktop and phone width.

The live server sees only committed rows: the module's data is written before the test's own
transaction opens, and what a test adds afterwards (a notification from Robokassa, its apply step)
runs in a thread of its own, which commits as the real callback and worker would.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import (
    ConnectionStatus,
    CrmConnection,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
)
from franchise_platform.network.models import Location
from franchise_platform.payments.models import Deal, Invoice, InvoicePurpose, LinkKind, Payment
from tests.factories import ProviderAccountFactory
from tests.panel.conftest import PanelSite
from tests.payments.helpers import active_link, callback, deal_with_links, visit
from tests.personas import make_persona_network, network_drop

from .conftest import apply_pending, crm_connection

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

DEAD_ERROR = "http_400: поле 512345 не найдено в сделках"


def _shop(name: str, login: str, location: str):
    account = ProviderAccountFactory(partner__name=name, merchant_login=login)
    Location.objects.create(name=location, address="Казань", partner=account.partner)
    return account


def _deal(client, account, *, lead: int, title: str, total: str) -> Deal:
    deal = deal_with_links(account.partner.locations.get(), total=total, lead=lead)
    Deal.objects.filter(pk=deal.pk).update(title=title)
    return deal


def _pay(client, account, deal: Deal, kind: str, *, wrong_first: bool = False) -> None:
    visit(client, active_link(deal, kind))
    invoice = Invoice.objects.filter(deal=deal).latest("id")
    if wrong_first:
        callback(client, account, inv_id=invoice.pk, out_sum=invoice.amount, password2="oops")
    callback(client, account, inv_id=invoice.pk, out_sum=invoice.amount)
    apply_pending()


@pytest.fixture(scope="module")
def story(browser_network, django_db_blocker) -> dict[str, Any]:
    """Committed data of the module's network: five deals in every state, two shops, amoCRM."""
    net = browser_network
    with django_db_blocker.unblock(), tenant_context(net.network):
        client = net.anonymous()
        kazan = _shop("ИП Иванов Иван Иванович", "chq-kazan-1", "Квест «Тайная комната»")
        ufa = _shop("ООО «Квест-Уфа»", "chq-ufa", "Квест «Шерлок»")
        partial = _deal(
            client, kazan, lead=7001, title="Комната, 6 игроков, сб 19:00", total="5000"
        )
        _pay(client, kazan, partial, LinkKind.PREPAYMENT, wrong_first=True)
        paid = _deal(client, ufa, lead=7002, title="Шерлок, корпоратив", total="8000")
        _pay(client, ufa, paid, LinkKind.FULL)
        _deal(client, kazan, lead=7003, title="Комната, день рождения", total="3500")
        over = _deal(client, ufa, lead=7004, title="Шерлок, 4 игрока", total="5000")
        visit(client, active_link(over, LinkKind.FULL))
        _pay(client, ufa, over, LinkKind.PREPAYMENT)
        full_invoice = Invoice.objects.filter(deal=over, amount=Decimal("5000.00")).get()
        callback(client, ufa, inv_id=full_invoice.pk, out_sum=full_invoice.amount)
        apply_pending()
        partial2 = _deal(client, ufa, lead=7005, title="Шерлок, выпускной", total="12000")
        _pay(client, ufa, partial2, LinkKind.PREPAYMENT)
        Payment.objects.filter(deal=paid).update(paid_at=timezone.now() - timedelta(days=3))

        crm = crm_connection(
            account_id=int(uuid.uuid4().int % 10**9),
            field_map={
                "location_field_id": 512301,
                "location_options": {"a": 1, "b": 2},
                "prepayment_url_field_id": 512302,
                "full_url_field_id": 512303,
                "paid_sum_field_id": 512304,
                "status_field_id": 512305,
                "status_options": {},
            },
        )
        dead = OutboxMessage.objects.create(
            connection=crm,
            kind=OutboxKind.DEAL_STATE,
            deal=partial,
            dedupe_key=f"deal_state:{partial.pk}:browser",
            status=OutboxStatus.DEAD,
            attempts=8,
            last_error=DEAD_ERROR,
        )
        OutboxMessage.objects.create(
            connection=crm,
            kind=OutboxKind.NOTE,
            deal=partial,
            dedupe_key=f"note:{partial.pk}:sent",
            status=OutboxStatus.SENT,
            attempts=1,
            sent_at=timezone.now(),
        )
        OutboxMessage.objects.create(
            connection=crm,
            kind=OutboxKind.NOTE,
            deal=partial2,
            dedupe_key=f"note:{partial2.pk}:waiting",
            next_attempt_at=timezone.now() + timedelta(hours=1),
        )
    connection.set_schema_to_public()
    return {"kazan": kazan, "partial": partial, "over": over, "dead": dead, "crm": crm}


def _top(page: Any) -> None:
    """Back to the top before a full-page shot, or the sticky top bar is drawn mid-page."""
    page.evaluate("window.scrollTo(0, 0)")


def _text(page: Any, selector: str) -> str:
    """What a person reads: no-break spaces (the thousands separator) as plain ones."""
    return page.inner_text(selector).replace("\xa0", " ").replace("\u202f", " ")


def committed(network, work: Callable[[], Any]) -> Any:
    """Run `work` in the network's schema on a connection of its own, committed when it returns."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            with tenant_context(network):
                outcome["value"] = work()
        except BaseException as exc:  # handed to the test's thread
            outcome["error"] = exc
        finally:
            connections.close_all()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def test_owner_filters_deals_and_reads_a_deals_history(panel_site, story, shoot):
    page = panel_site.new_page()
    panel_site.login(page, panel_site.net.owner)

    page.click("nav >> text=Сделки")
    page.wait_for_selector("#deals")
    assert page.locator("#deals tbody tr").count() == 5
    shoot(page, "40-deals")

    page.select_option("select[name=status]", "partially_paid")
    page.click("button:has-text('Показать')")
    page.wait_for_url(re.compile(r".*status=partially_paid.*"))
    titles = page.locator("#deals .row-title").all_inner_texts()
    assert sorted(t.strip() for t in titles) == [
        "Комната, 6 игроков, сб 19:00",
        "Шерлок, выпускной",
    ]
    shoot(page, "41-deals-filtered")

    page.click("text=Комната, 6 игроков, сб 19:00")
    page.wait_for_selector("#timeline")
    timeline = _text(page, "#timeline")
    assert "отклонено" in timeline, timeline
    assert "Получена оплата 1 500,00 ₽" in timeline
    callbacks = page.inner_text("#callbacks")
    assert "bad_signature" in callbacks and "Подпись не сходится" in callbacks
    assert "принято" in callbacks
    page.click("#callbacks details >> nth=0")
    assert "••••••" in page.inner_text("#callbacks")
    assert DEAD_ERROR in page.inner_text("#crm")
    link = page.locator("#links .copy-value").first.inner_text().strip()
    assert "/pay/" in link
    page.click("#links button[data-copy] >> nth=0")
    page.wait_for_selector("#links button.is-copied")
    assert page.evaluate("navigator.clipboard.readText()") == link
    _top(page)
    shoot(page, "42-deal-detail")

    page.goto(panel_site.url(f"/panel/deals/{story['over'].pk}/"))
    assert "Переплата 1 500,00 ₽" in _text(page, "#overpaid")
    shoot(page, "43-deal-overpaid")
    page.context.close()


def test_owner_reads_payments_and_downloads_them(panel_site, story, shoot, tmp_path):
    page = panel_site.new_page()
    panel_site.login(page, panel_site.net.owner)

    page.click("nav >> text=Платежи")
    page.wait_for_selector("#payments")
    assert page.inner_text("#payments-count") == "5"
    shoot(page, "44-payments")

    page.select_option("select[name=partner]", label="ИП Иванов Иван Иванович")
    page.click("button:has-text('Показать')")
    page.wait_for_url(re.compile(r".*partner=.*"))
    assert _text(page, "#payments-total") == "1 500,00 ₽"
    shoot(page, "45-payments-filtered")
    with page.expect_download() as download:
        page.click("#export-csv")
    saved = tmp_path / "payments.csv"
    download.value.save_as(saved)
    lines = saved.read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 2 and lines[1].split(",")[1] == "1500.00"
    page.context.close()


def test_owner_retries_a_dead_crm_message(panel_site, story, shoot):
    page = panel_site.new_page()
    panel_site.login(page, panel_site.net.owner)
    dead = story["dead"]

    page.click("nav >> text=Интеграции")
    page.wait_for_selector(f"#outbox-{dead.pk}")
    assert page.inner_text("#dead-count") == "1"
    assert page.inner_text("#pending-count") == "1"
    assert DEAD_ERROR in page.inner_text("#dead")
    shoot(page, "46-integrations")

    page.click(f"#outbox-{dead.pk} >> text=Повторить")
    page.wait_for_selector(".alert-success")
    assert page.locator(f"#outbox-{dead.pk}").count() == 0
    assert page.inner_text("#pending-count") == "2"
    with tenant_context(panel_site.net.network):
        message = OutboxMessage.objects.get(pk=dead.pk)
        assert message.status in (OutboxStatus.PENDING, OutboxStatus.SENT)  # a worker may be quick
        assert message.status != OutboxStatus.DEAD
    _top(page)
    shoot(page, "47-integrations-retried")

    page.click("#fields summary")
    _top(page)
    shoot(page, "48-integrations-own-fields")
    page.context.close()


def test_owner_checks_a_shop_and_sees_it_connected(panel_site, story, shoot):
    net = panel_site.net
    page = panel_site.new_page()
    panel_site.login(page, net.owner)
    account = story["kazan"]

    page.goto(panel_site.url(f"/panel/partners/{account.partner_id}/"))
    page.click("button:has-text('Проверить магазин')")
    page.wait_for_selector("#shop-check-pay")
    href = page.get_attribute("#shop-check-pay", "href")
    assert "IsTest=1" in href and "robokassa" in href
    shoot(page, "49-partner-shop-check-issued")

    def robokassa_notifies(**signed: Any) -> Callable[[], int]:
        def send() -> int:
            invoice = Invoice.objects.get(purpose=InvoicePurpose.SHOP_CHECK)
            answer = callback(
                net.anonymous(),
                account,
                inv_id=invoice.pk,
                out_sum=invoice.amount,
                is_test=True,
                **signed,
            )
            apply_pending()
            return answer.status_code

        return send

    # The shop's Result URL first gets a notification signed with a password it does not know.
    assert committed(net.network, robokassa_notifies(password2="not-the-test-password")) == 400
    page.reload()
    assert "Последняя проверка не прошла." in page.inner_text("#shop-check-error")
    shoot(page, "50-partner-shop-check-problem")

    assert committed(net.network, robokassa_notifies()) == 200
    page.reload()
    assert "Магазин подключён" in page.inner_text("#shop-check")
    shoot(page, "51-partner-shop-connected")
    page.click("nav >> text=Партнёры")
    assert page.locator("[data-shop=ok]").count() == 1
    assert page.locator("[data-shop=unchecked]").count() == 1
    shoot(page, "52-partners-shop-badges")
    page.context.close()


def test_revoked_access_is_shown_on_every_page(panel_site, story, shoot):
    net = panel_site.net
    crm = story["crm"]
    committed(
        net.network,
        lambda: CrmConnection.objects.filter(pk=crm.pk).update(
            status=ConnectionStatus.REVOKED, last_error="Интеграция отключена в amoCRM"
        ),
    )
    try:
        page = panel_site.new_page()
        panel_site.login(page, net.owner)
        assert "Доступ к amoCRM отозван — переподключите интеграцию" in page.inner_text(
            "#crm-revoked"
        )
        shoot(page, "53-revoked-banner-home")
        page.click("#crm-revoked >> text=Открыть интеграции")
        page.wait_for_selector("#amocrm .badge-danger")
        shoot(page, "54-integrations-revoked")
        page.context.close()
    finally:
        committed(
            net.network,
            lambda: CrmConnection.objects.filter(pk=crm.pk).update(
                status=ConnectionStatus.CONNECTED, last_error=""
            ),
        )


@pytest.fixture(scope="module")
def empty_network(django_db_setup, django_db_blocker) -> Iterator[Any]:
    with django_db_blocker.unblock():
        net = make_persona_network(f"e{uuid.uuid4().hex[:10]}", "Новая сеть")
    yield net
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        network_drop(net.network)


def test_a_new_network_sees_finished_empty_pages(empty_network, live_server_port, chromium, shoot):
    site = PanelSite(empty_network, live_server_port, chromium)
    page = site.new_page()
    site.login(page, empty_network.owner)
    for nav, name in (("Сделки", "55-deals-empty"), ("Платежи", "56-payments-empty")):
        page.click(f"nav >> text={nav}")
        page.wait_for_selector(".empty")
        shoot(page, name)
    page.click("nav >> text=Интеграции")
    assert "amoCRM не подключена" in page.inner_text("#amocrm")
    assert page.locator("button:has-text('Подключить amoCRM')").count() == 1
    shoot(page, "57-integrations-not-connected")
    page.context.close()

    viewer = site.new_page()
    site.login(viewer, empty_network.viewer)
    viewer.goto(site.url("/panel/integrations/"))
    assert viewer.locator("button:has-text('Подключить amoCRM')").count() == 0
    shoot(viewer, "58-integrations-viewer")
    viewer.context.close()
