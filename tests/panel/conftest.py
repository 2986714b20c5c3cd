"""A real server and a real Chromium for the panel's browser tests.

The server is Django's own live-server thread (static files included) bound to 127.0.0.1 on a free
port, serving the test database. Chromium resolves `<slug>.localhost` to 127.0.0.1 by itself, so each
test reaches its network by its real host name.

A live server cannot see a test's uncommitted transaction, so the network a browser test drives is
committed and dropped afterwards, like `fresh_network`, but module-scoped: browser tests carry the
`django_db` mark (so pytest-django creates the test database even when only they are selected), and
that mark's transaction opens before any function-scoped fixture could commit a network.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.test.testcases import LiveServerThread

from tests.csp_watch import CspWatchedBrowser
from tests.network.conftest import make_partner
from tests.personas import Persona, PersonaNetwork, make_persona_network, network_drop

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "panel"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def live_server_port(django_db_setup) -> Iterator[int]:
    # Chromium keeps connections alive, and a request thread waiting on one would otherwise keep
    # its database connection open until the test database is dropped (which then fails).
    database = connections.settings[DEFAULT_DB_ALIAS]
    kept_age = database.get("CONN_MAX_AGE", 0)
    database["CONN_MAX_AGE"] = 0
    thread = LiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield thread.port
    # Before the test database is dropped: the server's connections would block DROP DATABASE.
    thread.terminate()
    database["CONN_MAX_AGE"] = kept_age


@pytest.fixture(scope="module")
def chromium(live_server_port) -> Iterator[Any]:
    """Chromium for one test module. Playwright's sync API cannot run twice in one thread, so it is
    closed after the module: other browser suites (the widget's) start their own afterwards. It
    depends on the server, so it always closes first and leaves no request hanging."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; Django would then refuse ORM calls
    # made by the test itself (assertions on the database), which are plain synchronous code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    # Django keeps connections per context, and Playwright's greenlets switch the context: close
    # them on both sides of the switch, or one is left open and blocks dropping the test database.
    connections.close_all()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            # Every context is watched for Content-Security-Policy violations (`csp_clean`).
            yield CspWatchedBrowser(browser)
            browser.close()
            connections.close_all()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(autouse=True)
def csp_clean(request) -> Iterator[None]:
    """A browser test fails if any page it opened reported a Content-Security-Policy violation:
    something the policy blocked is something that page lost (a style, a script, a form)."""
    if "chromium" not in request.fixturenames:
        yield
        return
    browser: CspWatchedBrowser = request.getfixturevalue("chromium")
    browser.take_violations()
    yield
    violations = browser.take_violations()
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


@dataclass
class PanelSite:
    """One network's panel as a browser sees it, plus a camera for every page."""

    net: PersonaNetwork
    port: int
    browser: Any

    def url(self, path: str = "/panel/") -> str:
        return f"http://{self.net.host}:{self.port}{path}"

    def new_page(self) -> Any:
        context = self.browser.new_context(viewport=DESKTOP, locale="ru-RU")
        context.grant_permissions(
            ["clipboard-read", "clipboard-write"], origin=self.url("").rstrip("/")
        )
        return context.new_page()

    def login(self, page: Any, persona: Persona) -> None:
        page.goto(self.url("/panel/login/"))
        page.fill("input[name=username]", persona.email)
        page.fill("input[name=password]", persona.password)
        page.click("button[type=submit]:has-text('Войти')")
        page.wait_for_url(re.compile(r".*/panel/$"))


@pytest.fixture(scope="module")
def browser_network(django_db_setup, django_db_blocker) -> Iterator[PersonaNetwork]:
    """A committed network of the module's own (owner, admin, viewer), dropped after the module."""
    slug = f"b{uuid.uuid4().hex[:10]}"
    with django_db_blocker.unblock():
        net = make_persona_network(slug, f"Квест-сеть {slug[:5]}")
    yield net
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        network_drop(net.network)


@pytest.fixture
def panel_site(browser_network, live_server_port, chromium) -> PanelSite:
    return PanelSite(browser_network, live_server_port, chromium)


@pytest.fixture
def shoot():
    """Save a full-page screenshot at desktop width and one at phone width (390 px)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> None:
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), full_page=True)
        page.set_viewport_size(DESKTOP)

    return take


@pytest.fixture
def partner_a(net_a):
    """A partner of network A with one location, inside the test's transaction."""
    return make_partner(net_a.network, name="ООО «Альфа-Квест»", with_location="Квест «Альфа»")
