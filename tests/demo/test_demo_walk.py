"""The README's five-step walk through the demo, in Chromium, on a fresh machine's terms: no amoCRM
account, no Robokassa shop (issue 14, item 2). The platform runs as `make run` runs it in all that
matters here: gunicorn, a real Celery worker, the demo network made by `manage.py demo_network`,
the sandbox on (DEMO_SANDBOX), the dummy CRM's leads in a file web and worker share.

login printed by demo_network → the sandbox deal card → «Сформировать ссылки» → two links → the
prepayment link → the dummy provider's page → «Оплатить» (a signed callback through the callback
URL, applied by the worker) → the card and the widget show the payment by themselves, the panel's
deal says «Оплачена частично» → the full link now asks for the rest → paid, and the panel's deal,
left open, says so by itself."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from celery import Celery
from django.db import connection
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from franchise_platform.payments.models import Deal
from franchise_platform.sandbox.demo import DEMO_ACCOUNT_ID, WALK_LEAD_ID
from tenants.models import CrmAccountBinding, Network
from tests.csp_watch import watch_csp
from tests.live import free_port, wait_for
from tests.personas import network_drop
from tests.widget.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.widget.test_widget_in_browser import ROOT as WIDGET
from tests.widget.test_widget_in_browser import link_card, money
from tests.worker import ROOT, WorkerProcess, worker_env

pytestmark = [pytest.mark.browser, pytest.mark.worker]

ARTIFACTS = ROOT / "tests" / "artifacts" / "demo"
# A broker database of this test's own: only its worker (with the dummy CRM's file) takes the
# demo's tasks, never the session's worker.
DEMO_REDIS_URL = "redis://127.0.0.1:6379/14"
PARTLY_PAID = re.compile("Оплачен[ао] частично")


@pytest.fixture
def demo_stack(django_db_setup, django_db_blocker, tmp_path) -> Iterator[dict[str, Any]]:
    port = free_port()
    env = {
        **worker_env(),
        "TEST_REDIS_URL": DEMO_REDIS_URL,
        "PLATFORM_DOMAIN": "localhost",
        "PLATFORM_BASE_URL": f"http://localhost:{port}",
        "DEMO_SANDBOX": "1",
        "DUMMY_CRM_STORE_PATH": str(tmp_path / "dummy-crm.json"),
    }
    redis.Redis.from_url(DEMO_REDIS_URL).flushdb()
    login_file = ROOT / ".local" / "demo-login.txt"
    kept = login_file.read_bytes() if login_file.exists() else None
    made = subprocess.run(
        [sys.executable, "manage.py", "demo_network"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if kept is None:
        login_file.unlink(missing_ok=True)
    else:
        login_file.write_bytes(kept)
    assert made.returncode == 0, made.stdout + made.stderr
    server = web_start(env, port)
    worker = WorkerProcess(
        name="demo", env=env, app=Celery(broker=DEMO_REDIS_URL, set_as_current=False)
    ).start()
    try:
        yield {"port": port, "out": made.stdout}
    finally:
        worker.stop()
        server.terminate()
        server.wait(20)
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            for network in Network.objects.filter(slug="chezaquest"):
                network_drop(network)
            CrmAccountBinding.objects.filter(account_id=DEMO_ACCOUNT_ID).delete()


def web_start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """The web as `make run` serves it: static files collected, gunicorn with deploy's config."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT, env=env, check=True, timeout=120,
    )  # fmt: skip
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "franchise_platform.wsgi:application",
         "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT, env={**env, "WEB_CONCURRENCY": "2", "WEB_THREADS": "2"},
        stdout=(ARTIFACTS / "web.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    wait_for(lambda: _healthy(port), timeout=60, what="the web's /healthz")
    return proc


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def tab(monkeypatch) -> Iterator[Any]:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="ru-RU")
        violations: list[str] = []
        watch_csp(context, violations)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        context.close()
        browser.close()
    assert not errors, errors
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def pay(page: Any, href: str, amount: str) -> None:
    """The customer, in a tab of their own: /pay/<token> → 302 → the dummy provider's page."""
    buyer = page.context.new_page()
    buyer.goto(href)
    expect(buyer.locator(".js-pay-amount")).to_have_text(f"{amount} ₽")
    shot(buyer, "pay_" + amount.replace(",", "_"))
    buyer.locator(".js-pay-submit").click()
    expect(buyer.locator(".js-paid")).to_have_text("Оплата отправлена")
    shot(buyer, "paid_" + amount.replace(",", "_"))
    buyer.close()


def test_demo_walk_from_the_printed_login_to_a_paid_deal(demo_stack, tab, django_db_blocker):
    port, page = demo_stack["port"], tab
    email = re.search(r"email: (\S+)", demo_stack["out"]).group(1)
    password = re.search(r"password: (\S+)", demo_stack["out"]).group(1)
    sandbox = re.search(r"Sandbox deal card: (\S+)", demo_stack["out"]).group(1)
    panel = f"http://chezaquest.localhost:{port}/panel/"

    # 1. The panel, with the login demo_network printed: shops, locations, deals, no banner to act on.
    page.goto(panel)
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url(re.compile(r".*/panel/(?!login).*"))
    page.goto(panel + "deals/")
    expect(page.locator("main")).to_contain_text(PARTLY_PAID)
    expect(page.locator("body")).not_to_contain_text("Подтвердите")
    shot(page, "1_panel_deals")

    # 2. The sandbox deal card: the real widget inside a stand-in of amoCRM's card.
    assert sandbox == f"http://localhost:{port}/sandbox/?lead={WALK_LEAD_ID}"
    page.goto(sandbox)
    page.wait_for_selector("body[data-widget-ready]")
    root = page.locator(WIDGET)
    root.locator(".js-fpl-generate").click()

    # 3. Two links, on the location's shop, with the prepayment rule's amount.
    expect(link_card(root, "prepayment").locator(".fpl-link__amount")).to_have_text(
        money("1 500,00 ₽")
    )
    expect(link_card(root, "full").locator(".fpl-link__amount")).to_have_text(money("5 000,00 ₽"))
    # The outbox wrote them into the stand-in CRM's lead; the card's fields follow by themselves.
    expect(page.locator(".js-crm-prepayment a")).to_have_count(1, timeout=20_000)
    shot(page, "2_card_links")
    prepayment = link_card(root, "prepayment").locator("a.fpl-link__url").get_attribute("href")
    full = link_card(root, "full").locator("a.fpl-link__url").get_attribute("href")
    assert prepayment.startswith(f"http://chezaquest.localhost:{port}/pay/")

    # 4. The customer pays the prepayment on the dummy provider's page.
    pay(page, prepayment, "1500,00")

    # 5. The card, left open, shows it by itself (the worker applied the callback, the outbox wrote
    # the lead, the card follows it and refreshes the widget); the panel's deal says so too.
    expect(page.locator(".js-crm-paid")).to_have_text("1500.00 ₽", timeout=20_000)
    expect(page.locator(".js-crm-status")).to_have_text("Частично оплачено")
    expect(link_card(root, "full").locator(".fpl-link__amount")).to_have_text(money("3 500,00 ₽"))
    shot(page, "4_card_partially_paid")
    with django_db_blocker.unblock():
        network = Network.objects.get(slug="chezaquest")
        with tenant_context(network):
            deal = Deal.objects.get(crm_deal_id=WALK_LEAD_ID)
        connection.set_schema_to_public()
    page.goto(f"{panel}deals/{deal.pk}/")
    expect(page.locator("#deal-live h1 .badge")).to_have_text(PARTLY_PAID)
    shot(page, "5_panel_partially_paid")

    # The rest: the same full link now asks for 3,500.00. The panel's deal, left open, turns
    # «Оплачена» by itself; so do the card and the widget.
    pay(page, full, "3500,00")
    expect(page.locator("#deal-live h1 .badge")).to_have_text("Оплачена", timeout=20_000)
    shot(page, "6_panel_paid")
    page.goto(sandbox)
    page.wait_for_selector("body[data-widget-ready]")
    expect(page.locator(".js-crm-paid")).to_have_text("5000.00 ₽", timeout=20_000)
    expect(link_card(root, "full")).to_have_class(re.compile("fpl-link_status_paid"))
    shot(page, "7_card_paid")
