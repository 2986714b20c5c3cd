"""The panel, the buyer's pages and the error pages in a real Chromium under the
Content-Security-Policy: styled, scripted (htmx, copy buttons), forms that leave for amoCRM still
leave, and no violation reported (`csp_clean` fails any browser test that sees one; the first test
proves it would). Screenshots: tests/artifacts/csp/."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from tests.csp_watch import assert_styled
from tests.panel.conftest import DESKTOP, PanelSite

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "csp"
GOOD_INN = "500100732259"
PANEL_PAGES = [
    "/panel/",
    "/panel/partners/",
    "/panel/partners/new/",
    "/panel/locations/",
    "/panel/deals/",
    "/panel/payments/",
    "/panel/integrations/",
    "/panel/integrations/claim/",
    "/panel/settings/",
    "/panel/tokens/",
    "/panel/audit/",
    "/panel/security/",
]


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_the_watch_reports_what_the_policy_blocks(panel_site: PanelSite, chromium):
    """Without this the other browser tests could pass with a watch that sees nothing."""
    page = panel_site.new_page()
    page.goto(panel_site.url("/panel/login/"))
    page.evaluate(
        """() => {
        const style = document.createElement("style");
        style.textContent = "body { color: red }";
        document.head.appendChild(style);
        document.body.insertAdjacentHTML("beforeend", '<p style="color: red">x</p>');
    }"""
    )
    page.wait_for_function("window.fplCspViolations >= 2")
    page.context.close()  # after every report of this page has reached the watch
    seen = chromium.take_violations()  # taken, so this test's own provocation does not fail it
    assert any("style-src-elem" in v for v in seen), seen
    assert any("style-src-attr" in v for v in seen), seen


def test_panel_pages_are_styled_and_scripted_under_the_policy(panel_site: PanelSite):
    page = panel_site.new_page()
    panel_site.login(page, panel_site.net.owner)
    for path in PANEL_PAGES:
        response = page.goto(panel_site.url(path))
        assert response is not None and response.status == 200, path
        assert page.locator("nav.nav").is_visible(), path
        assert_styled(page)
        # htmx runs with its inline style and eval off (panel/_htmx.html).
        assert page.evaluate("htmx.config.includeIndicatorStyles") is False
        assert page.evaluate("htmx.config.allowEval") is False
    page.goto(panel_site.url("/panel/"))
    _shot(page, "panel-home")

    # htmx still works: the INN hint is fetched and swapped in as the owner types.
    page.goto(panel_site.url("/panel/partners/new/"))
    page.fill("input[name=inn]", GOOD_INN)
    page.wait_for_selector("#inn-hint .field-ok")

    # The second factor's QR code (inline SVG) renders.
    page.goto(panel_site.url("/panel/security/"))
    page.click("button:has-text('Включить вход по коду')")
    page.wait_for_selector(".qr svg")
    assert page.locator(".qr svg").bounding_box()["width"] > 100
    page.context.close()


def test_amocrm_button_may_still_send_the_owner_to_amocrm(panel_site: PanelSite):
    """form-action is checked on the redirect after the post too: amoCRM's consent page must be
    allowed, or the popup stays blank."""
    page = panel_site.new_page()
    page.context.route(
        "https://www.amocrm.ru/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body="<p>consent</p>"),
    )
    panel_site.login(page, panel_site.net.owner)
    page.goto(panel_site.url("/panel/integrations/"))
    with page.context.expect_page() as popup_info:
        page.click("button:has-text('Подключить amoCRM')")
    popup = popup_info.value
    popup.wait_for_url(re.compile(r"^https://www\.amocrm\.ru/oauth\?client_id="))
    assert popup.inner_text("p") == "consent"
    page.context.close()


def test_buyer_and_error_pages_are_styled_under_the_policy(panel_site: PanelSite, chromium):
    context = chromium.new_context(viewport=DESKTOP, locale="ru-RU")
    page = context.new_page()
    partner = uuid.uuid4()
    page.goto(panel_site.url(f"/callbacks/robokassa/{partner}/success/?InvId=1"))
    assert_styled(page)
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(244, 246, 248)"
    _shot(page, "buyer-success")
    page.goto(panel_site.url(f"/callbacks/robokassa/{partner}/fail/?InvId=1"))
    assert_styled(page)

    # Our CSRF failure page (Django's own needs an inline <style>): a form posted without a token.
    page.goto(panel_site.url("/panel/login/"))
    page.evaluate("document.querySelector('input[name=csrfmiddlewaretoken]').remove()")
    page.fill("input[name=username]", "nobody@example.com")
    page.fill("input[name=password]", "whatever-password")
    page.click("button[type=submit]:has-text('Войти')")
    page.wait_for_selector("h1:has-text('Запрос отклонён')")
    assert_styled(page)

    # The platform host: the OAuth result page, a 404, the API's documentation.
    platform = f"http://localhost:{panel_site.port}"
    page.goto(platform + "/integrations/amocrm/oauth/callback/?code=x&state=forged")
    assert_styled(page)
    page.goto(platform + "/no-such-page/")
    assert "Not Found" in page.content()
    page.goto(panel_site.url("/api/v1/docs"))
    page.wait_for_selector(".swagger-ui .info")
    context.close()
