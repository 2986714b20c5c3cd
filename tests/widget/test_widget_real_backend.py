"""The built widget in Chromium, inside the stand-in of amoCRM's lead card, against the REAL
backend: a live gunicorn, a real Celery worker, the fakes of amoCRM and Robokassa (issue 5, item 8).

The widget's `$authorizedAjax` (the stand-in's) sends a disposable token minted the way amoCRM
mints it, signed with the integration's secret; the backend verifies it like any other."""

from __future__ import annotations

import shutil
import threading
import uuid
import zipfile
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.csp_watch import watch_csp

from .conftest import (
    JQUERY_CANDIDATES,
    _QuietHandler,
    copy_host_page,
    host_policy,
    load_build_module,
)
from .test_widget_in_browser import ROOT, link_card, money, shoot

pytestmark = [pytest.mark.browser, pytest.mark.worker]


@pytest.fixture
def real_host(app_server, widget_origin_port, tmp_path):
    jquery = next((Path(p) for p in JQUERY_CANDIDATES if p and Path(p).is_file()), None)
    if jquery is None:
        pytest.skip("jQuery not found: apt-get install -y libjs-jquery")
    copy_host_page(tmp_path / "host")
    (tmp_path / "vendor").mkdir()
    shutil.copyfile(jquery, tmp_path / "vendor" / "jquery.js")
    archive = load_build_module().build_widget(app_server.base_url, tmp_path / "widget.zip")
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp_path / "widget")
    server = ThreadingHTTPServer(
        ("127.0.0.1", widget_origin_port), partial(_QuietHandler, directory=str(tmp_path))
    )
    server.daemon_threads = True
    server.csp_policy = host_policy(app_server.base_url)  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{widget_origin_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def chromium_page(browser, real_host, monkeypatch):
    """A tab in the session's Chromium (one Playwright per thread: the stub tests share it)."""
    # Playwright's sync API runs an event loop in this thread; the test's own database checks are
    # synchronous and safe here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    context = browser.new_context(viewport={"width": 1180, "height": 820}, locale="ru-RU")
    violations: list[str] = []
    watch_csp(context, violations)  # the stand-in's strict policy and our own pages' policy
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, errors
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


def test_widget_generates_links_against_the_real_backend(
    live_network, real_host, chromium_page, app_server
):
    from tests.e2e.test_lifecycle import _setup

    net = live_network
    ip, _, baumana, _ = _setup(net)
    net.amo.set_lead(net.account_id, 7201, 5000, location_enum_id=net.location_enum(baumana))
    page = chromium_page
    minted: list[str] = []

    def mint(account_id: int, subdomain: str, user_id: int) -> str:
        token = net.amo.make_widget_token(account_id, aud=app_server.base_url, user_id=user_id)
        minted.append(token)
        return token

    page.expose_function("fplMintToken", mint)
    subdomain = net.amo.accounts[net.account_id].subdomain
    page.goto(
        f"{real_host}/host/index.html?lead=7201&account={net.account_id}&subdomain={subdomain}"
    )
    page.wait_for_selector("body[data-widget-ready]")
    root = page.locator(ROOT)

    root.locator(".js-fpl-generate").click()

    expect(root.locator(".js-fpl-partner")).to_contain_text(ip["name"])
    expect(root.locator(".js-fpl-location")).to_contain_text(baumana["name"])
    expect(link_card(root, "prepayment").locator(".fpl-link__amount")).to_have_text(
        money("1 500,00 ₽")
    )
    expect(link_card(root, "full").locator(".fpl-link__amount")).to_have_text(money("5 000,00 ₽"))
    href = link_card(root, "full").locator("a.fpl-link__url").get_attribute("href")
    assert href.startswith(f"http://{net.slug}.localhost:{app_server.port}/pay/")
    assert len(minted) >= 2  # a fresh single-use token for every call
    shoot(page, Path(__file__).resolve().parents[1] / "artifacts", "real_backend_links")

    # The customer pays the prepayment; a refresh in the card shows it.
    net.pay(link_card(root, "prepayment").locator("a.fpl-link__url").get_attribute("href"))
    from tests.live import wait_for

    wait_for(
        lambda: net.widget("GET", 7201).json()["deal"]["status"] == "partially_paid",
        what="payment applied",
    )
    root.locator(".js-fpl-refresh").click()
    expect(link_card(root, "full").locator(".fpl-link__amount")).to_have_text(money("3 500,00 ₽"))
    shoot(page, Path(__file__).resolve().parents[1] / "artifacts", "real_backend_partially_paid")


def test_widget_shows_the_backends_russian_refusal(
    live_network, real_host, chromium_page, app_server
):
    from tests.e2e.test_lifecycle import _setup

    net = live_network
    _setup(net)
    net.amo.set_lead(net.account_id, 7202, 5000)  # no location chosen in the lead
    page = chromium_page
    page.expose_function(
        "fplMintToken",
        lambda a, s, u: net.amo.make_widget_token(a, aud=app_server.base_url, user_id=u),
    )
    subdomain = net.amo.accounts[net.account_id].subdomain
    page.goto(
        f"{real_host}/host/index.html?lead=7202&account={net.account_id}&subdomain={subdomain}"
    )
    page.wait_for_selector("body[data-widget-ready]")
    root = page.locator(ROOT)

    root.locator(".js-fpl-generate").click()

    expect(root.locator(".js-fpl-error")).to_contain_text("не выбрана локация")


def test_widget_connect_link_opens_our_sign_up_under_its_policy(
    live_amo, real_host, chromium_page, app_server
):
    """An account no network has yet: the widget asks the real backend for a claim code (our API
    answers through CORS under our headers) and links to our sign-up, which opens under our policy
    with no violation of it or of the stand-in's."""
    subdomain = f"kvest{uuid.uuid4().hex[:8]}"
    account_id = live_amo.add_account(subdomain=subdomain)
    page = chromium_page
    page.expose_function(
        "fplMintToken",
        lambda a, s, u: live_amo.make_widget_token(a, aud=app_server.base_url, user_id=u),
    )
    page.goto(f"{real_host}/host/index.html?lead=7203&account={account_id}&subdomain={subdomain}")
    page.wait_for_selector("body[data-widget-ready]")
    connect = page.locator(ROOT).locator(".js-fpl-connect")
    expect(connect.locator(".fpl-connect__title")).to_have_text("Подключите сеть")
    artifacts = Path(__file__).resolve().parents[1] / "artifacts" / "csp"
    artifacts.mkdir(parents=True, exist_ok=True)
    shoot(page, artifacts, "connect")

    with page.context.expect_page() as opened:
        connect.locator(".js-fpl-signup").click()
    signup = opened.value
    signup.wait_for_load_state()
    assert signup.url.startswith(f"{app_server.base_url}/signup/?amocrm_account={account_id}")
    # gunicorn alone serves no static files (nginx does in production): the sign-up's styling and
    # htmx under the policy are tested with the live server in tests/onboarding/test_browser_csp.py.
    expect(signup.locator("form.signup-form input[name=amocrm_account]")).to_have_value(
        str(account_id)
    )
    policy = signup.context.request.get(signup.url).headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy
