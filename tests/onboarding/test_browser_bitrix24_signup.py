"""A Bitrix24 portal's administrator installs the app and a newcomer signs up from it, in a real
Chromium against a real server and the strict fake Bitrix24: the installer page shows the claim
code and tells the portal the install is finished; its sign-up link opens the form with Bitrix24
chosen and the code filled in; the new network's integrations page shows the portal connected.
Screenshots: tests/artifacts/onboarding/ (desktop and 390 px)."""

from __future__ import annotations

import html
import re
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.db import connection

from tenants.models import CrmAccountBinding, Network
from tests.crm_sync.conftest import b24, b24_server  # noqa: F401

from .conftest import DESKTOP, PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

# Stands in for Bitrix24's JS SDK (the tests reach no outside host): the handshake answers at
# once and installFinish is recorded.
FAKE_SDK = (
    "window.BX24={init:function(cb){cb();},installFinish:function(){window.__b24Finished=true;}};"
)


@pytest.fixture(scope="module")
def cleanup(django_db_setup, django_db_blocker):
    """What the live server commits: the new networks and the portal's binding. Module scoped,
    so that it runs outside a test's transaction (whose rollback would undo it)."""
    slugs: list[str] = []
    yield slugs
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        CrmAccountBinding.objects.filter(crm="bitrix24").delete()
        for network in Network.objects.filter(slug__in=slugs):
            network.delete(force_drop=True)


def installer_form(action: str, body: bytes) -> str:
    """A page that posts the portal's installer frame form to us, as the portal's iframe does."""
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in parse_qsl(body.decode(), keep_blank_values=True)
    )
    return f'<form id="f" method="post" action="{html.escape(action)}">{inputs}</form>'


def test_a_portal_admin_installs_and_a_newcomer_signs_up_with_the_code(
    b24,  # noqa: F811
    live_server_port,
    chromium,
    shoot,
    cleanup,
):
    base = f"http://localhost:{live_server_port}"
    member_id = b24.add_portal(domain=f"kazan{uuid.uuid4().hex[:6]}.bitrix24.com")
    query, body = b24.installer_frame(member_id)
    context = chromium.new_context(viewport=DESKTOP, locale="ru-RU")
    page = context.new_page()
    page.route(
        "https://api.bitrix24.com/**",
        lambda route: route.fulfill(body=FAKE_SDK, content_type="application/javascript"),
    )

    page.set_content(
        installer_form(f"{base}/integrations/bitrix24/install/?{urlencode(query)}", body)
    )
    with page.expect_navigation():
        page.eval_on_selector("#f", "form => form.submit()")

    code = page.inner_text("#claim-code").strip()
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{3}-[2-9A-HJ-NP-Z]{3}", code)
    page.wait_for_function("window.__b24Finished === true")
    shoot(page, "b24-01-installer-code")
    link = urlsplit(page.get_attribute("#signup-link", "href"))
    assert link.path == "/signup/" and f"claim={code}" in link.query

    slug = f"b24{uuid.uuid4().hex[:6]}"
    cleanup.append(slug)
    page.goto(f"{base}/signup/?{link.query}")
    assert page.locator("#from-bitrix24").is_visible()
    assert page.is_checked("input[name=crm][value=bitrix24]")
    assert page.input_value("input[name=claim_code]") == code
    shoot(page, "b24-02-signup-from-bitrix24")
    page.fill("input[name=network_name]", "Квесты Казани в Битрикс24")
    page.fill("input[name=slug]", slug)
    page.fill("input[name=owner_email]", f"owner@{slug}.test")
    page.fill("input[name=owner_password]", PASSWORD)
    page.click("form.signup-form button[type=submit]")

    page.wait_for_url(re.compile(rf"^http://{slug}\.localhost:{live_server_port}/panel/$"))
    page.goto(f"http://{slug}.localhost:{live_server_port}/panel/integrations/")
    assert page.inner_text("#crm-chosen").strip() == "Bitrix24"
    assert "подключён" in page.inner_text("#bitrix24 .badge")
    assert member_id in page.inner_text("#bitrix24")
    assert page.locator("#crm-locked").is_visible()
    shoot(page, "b24-03-integrations-connected")
    assert Network.objects.get(slug=slug).crm == "bitrix24"
    context.close()


def test_an_owner_switches_to_bitrix24_and_sees_the_install_address(
    live_server_port, chromium, shoot, cleanup
):
    base = f"http://localhost:{live_server_port}"
    slug = f"sw{uuid.uuid4().hex[:6]}"
    cleanup.append(slug)
    page = chromium.new_context(viewport=DESKTOP, locale="ru-RU").new_page()
    page.goto(f"{base}/signup/")
    page.fill("input[name=network_name]", "Сеть без CRM")
    page.fill("input[name=slug]", slug)
    page.fill("input[name=owner_email]", f"owner@{slug}.test")
    page.fill("input[name=owner_password]", PASSWORD)
    assert page.is_checked("input[name=crm][value=amocrm]")
    page.click("form.signup-form button[type=submit]")
    page.wait_for_url(re.compile(rf"^http://{slug}\.localhost:{live_server_port}/panel/$"))

    page.goto(f"http://{slug}.localhost:{live_server_port}/panel/integrations/")
    assert page.locator("#amocrm").is_visible() and not page.locator("#bitrix24").count()
    page.check("#crm-choose input[value=bitrix24]")
    page.click("#crm-choose button[type=submit]")
    page.wait_for_selector("#bitrix24-install-url")

    assert page.inner_text("#bitrix24-install-url").endswith("/integrations/bitrix24/install/")
    assert page.locator("#bitrix24-claim").is_visible()
    shoot(page, "b24-04-integrations-install-address")
    assert Network.objects.get(slug=slug).crm == "bitrix24"
    page.context.close()
