"""Bitrix24's deal tab in Chromium: a stand-in portal page at the portal's own HTTPS origin
(``https://acme.bitrix24.com``, resolved to a loopback address, a throwaway certificate) frames
our placement the way Bitrix24 does, by a form POST into an iframe (spec §1.3); the card loads,
«Сформировать ссылки» is pressed and the two links show, in Russian and in English. Our page is
served by the live server under its real Content-Security-Policy (frame-ancestors: that portal
only); any violation fails the test. Screenshots: tests/artifacts/bitrix24/."""

from __future__ import annotations

import html
import os
import ssl
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from django.db import connection, connections
from django.test import override_settings
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from franchise_platform.crm_sync.models import CrmConnection
from tenants.models import CrmAccountBinding
from tests.csp_watch import CspWatchedBrowser
from tests.factories import shop
from tests.panel.conftest import CHROMIUM, CHROMIUM_ARGS, live_server_port  # noqa: F401
from tests.personas import make_persona_network, network_drop

from .conftest import DOMAIN, Portal, b24_settings, install_portal

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "bitrix24"
NBSP = "\u00a0"
# A loopback address of its own: port 443 there is ours alone.
PORTAL_IP = "127.0.0.77"
# Another portal's origin, served by the same stand-in: it must not be able to frame acme's card.
OTHER = "other.bitrix24.com"
PORTAL_JS = """(function () {
  var form = document.getElementById('b24-open');
  if (form) { form.submit(); }
}());
"""


def money(text: str) -> str:
    return text.replace(" ", NBSP)


@dataclass
class FrameNetwork:
    net: Any
    partner: str
    location: str
    location_id: str


@pytest.fixture(scope="module")
def frame_network(django_db_setup, django_db_blocker) -> Iterator[FrameNetwork]:
    """A committed network with a partner's shop and a location (the live server sees it)."""
    with django_db_blocker.unblock():
        net = make_persona_network(f"b24{uuid.uuid4().hex[:8]}", "Сеть с Битрикс24")
        with tenant_context(net.network):
            location = shop().partner.locations.get()
            made = FrameNetwork(net, location.partner.name, location.name, str(location.pk))
        connection.set_schema_to_public()
    yield made
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        network_drop(net.network)


class _PortalHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def portal_site(tmp_path_factory) -> Iterator[Path]:
    """``https://acme.bitrix24.com/`` (port 443 of PORTAL_IP) serving files of a folder."""
    root = tmp_path_factory.mktemp("portal")
    key, cert = root / "key.pem", root / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", f"/CN={DOMAIN}"),
            *("-addext", f"subjectAltName=DNS:{DOMAIN},DNS:{OTHER}"),
        ],
        check=True,
        capture_output=True,
    )
    site = root / "site"
    site.mkdir()
    (site / "portal.js").write_text(PORTAL_JS, encoding="utf-8")
    try:
        server = ThreadingHTTPServer((PORTAL_IP, 443), partial(_PortalHandler, directory=str(site)))
    except OSError as exc:
        pytest.skip(f"cannot serve the stand-in portal on {PORTAL_IP}:443: {exc}")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield site
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def chromium(live_server_port) -> Iterator[CspWatchedBrowser]:  # noqa: F811
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    connections.close_all()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    *CHROMIUM_ARGS,
                    f"--host-resolver-rules=MAP {DOMAIN} {PORTAL_IP}, MAP {OTHER} {PORTAL_IP}",
                ],
                headless=True,
            )
            yield CspWatchedBrowser(browser)
            browser.close()
            connections.close_all()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def frame_portal(b24_server, frame_network, django_db_blocker) -> Iterator[Portal]:
    """The portal installed and claimed by the committed network (the live server sees it),
    the app's settings the fake's while this module runs."""
    keys = override_settings(**b24_settings(b24_server))
    keys.enable()
    try:
        with django_db_blocker.unblock():
            portal = install_portal(b24_server, frame_network.net)
            connection.set_schema_to_public()
        yield portal
    finally:
        keys.disable()
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            CrmAccountBinding.objects.filter(network=frame_network.net.network).delete()


@pytest.fixture
def deal_tab(frame_portal, frame_network, portal_site, live_server_port):  # noqa: F811
    """Writes the stand-in portal's deal page for a new deal of 5000 at the network's location
    (read from the portal by the real connection): an iframe and the frame POST."""
    portal = frame_portal
    with tenant_context(portal.net.network):
        fields = CrmConnection.objects.get(crm="bitrix24", account_id=portal.member_id).field_map
    connection.set_schema_to_public()
    option = fields["location_options"][frame_network.location_id]

    def write(lang: str, host: str = DOMAIN, **changes: str) -> str:
        deal_id = portal.b24.add_deal(
            portal.member_id,
            title="Квест на 6 человек",
            opportunity="5000.00",
            UF_CRM_FP_LOCATION=str(option),
        )
        query, body = portal.frame(deal_id, LANG=lang, **changes)
        action = f"http://localhost:{live_server_port}/integrations/bitrix24/placement/"
        inputs = "\n".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in parse_qsl(body.decode(), keep_blank_values=True)
        )
        page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Сделка #{deal_id}</title></head>
<body>
<h1>Сделка #{deal_id}</h1>
<form id="b24-open" method="post" target="b24-frame"
      action="{html.escape(action + "?" + urlencode(query))}">
{inputs}
</form>
<iframe name="b24-frame" id="b24-frame" width="760" height="720"></iframe>
<script src="/portal.js"></script>
</body></html>"""
        name = f"deal-{deal_id}.html"
        (portal_site / name).write_text(page, encoding="utf-8")
        return f"https://{host}/{name}"

    return write


@pytest.fixture
def browser_page(chromium):
    context = chromium.new_context(
        ignore_https_errors=True, viewport={"width": 900, "height": 860}, locale="ru-RU"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    chromium.take_violations()
    yield page
    context.close()
    assert not errors, errors
    violations = chromium.take_violations()
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


@pytest.mark.parametrize(
    ("lang", "generate", "done", "prepayment", "full"),
    [
        ("ru", "Сформировать ссылки", "Ссылки готовы", "Предоплата", "Полная оплата"),
        ("en", "Generate links", "Links are ready", "Prepayment", "Full payment"),
    ],
)
def test_the_deal_tab_generates_the_two_links(
    deal_tab, browser_page, frame_network, lang, generate, done, prepayment, full
):
    page = browser_page
    page.goto(deal_tab(lang))
    frame = page.frame_locator("#b24-frame")
    card = frame.locator(".js-fpl-root")
    button = card.locator(".js-fpl-generate")
    expect(button).to_have_text(generate)

    button.click()

    expect(card.locator(".js-fpl-notice")).to_contain_text(done)
    expect(card.locator(".js-fpl-partner")).to_contain_text(frame_network.partner)
    expect(card.locator(".js-fpl-location")).to_contain_text(frame_network.location)
    pre = card.locator(".fpl-link[data-kind='prepayment']")
    whole = card.locator(".fpl-link[data-kind='full']")
    expect(pre.locator(".fpl-link__kind")).to_have_text(prepayment)
    expect(whole.locator(".fpl-link__kind")).to_have_text(full)
    expect(pre.locator(".fpl-link__amount")).to_have_text(money("1 500,00 ₽"))
    expect(whole.locator(".fpl-link__amount")).to_have_text(money("5 000,00 ₽"))
    expect(pre.locator(".js-fpl-copy")).to_be_visible()
    href = whole.locator("a.fpl-link__url").get_attribute("href")
    assert href and "/pay/" in href
    # the frame token never rides in a URL
    framed = [f for f in page.frames if "/integrations/bitrix24/placement/" in f.url]
    assert framed and all("token" not in f.url.lower() for f in framed)

    # a second press (with the rotated token) answers the same two links
    button.click()
    expect(card.locator(".js-fpl-notice")).to_contain_text(done)
    assert whole.locator("a.fpl-link__url").get_attribute("href") == href
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"deal_tab_{lang}.png"), full_page=True)


def test_a_refused_frame_says_why_inside_the_tab(deal_tab, browser_page):
    page = browser_page
    page.goto(deal_tab("ru", APPLICATION_TOKEN="e" * 32))

    refused = page.frame_locator("#b24-frame").locator(".js-fpl-refused")

    expect(refused).to_contain_text("Не удалось подтвердить, что вкладку открыл Битрикс24")
    assert refused.get_attribute("data-code") == "bad_application_token"
    assert page.frame_locator("#b24-frame").locator(".js-fpl-generate").count() == 0


def test_another_origin_cannot_frame_the_card(deal_tab, chromium, browser_page):
    page = browser_page

    with page.expect_console_message(lambda m: "frame-ancestors" in m.text, timeout=15_000):
        page.goto(deal_tab("ru", host=OTHER))

    blocked = chromium.take_violations()  # the block is the point here, not a page's loss
    assert any("frame-ancestors" in v and DOMAIN in v for v in blocked), blocked
    assert page.frame_locator("#b24-frame").locator(".js-fpl-root").count() == 0
