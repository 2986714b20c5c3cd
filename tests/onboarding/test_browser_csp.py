"""The landing, the sign-up (with the widget's pre-filled link) and the operator's sign-in in a real
Chromium under the Content-Security-Policy: styled, the htmx address check live, the sign-up's
redirect to the new network's host allowed by form-action, and no violation reported (`csp_clean`
fails the test otherwise). Screenshots: tests/artifacts/csp/."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from django.db import connection

from tenants.models import Network
from tests.csp_watch import assert_styled

from .conftest import DESKTOP, PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "csp"


@pytest.fixture
def created(django_db_blocker):
    slugs: list[str] = []
    yield slugs
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        for network in Network.objects.filter(slug__in=slugs):
            network.delete(force_drop=True)


def test_landing_and_sign_up_work_under_the_policy(live_server_port, chromium, created):
    base = f"http://localhost:{live_server_port}"
    context = chromium.new_context(viewport=DESKTOP, locale="ru-RU")
    page = context.new_page()
    page.goto(base + "/")
    assert page.locator(".how-step").count() == 3
    assert_styled(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(ARTIFACTS / "landing.png"), full_page=True)

    # The widget's "register a new network" link, pre-filled; htmx checks the address at once.
    slug = f"csp{uuid.uuid4().hex[:8]}"
    created.append(slug)
    page.goto(base + f"/signup/?amocrm_account=31337&subdomain={slug}")
    assert_styled(page)
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False
    page.wait_for_selector("#slug-hint .slug-free")
    page.screenshot(path=str(ARTIFACTS / "signup.png"), full_page=True)
    page.fill("input[name=owner_email]", f"owner@{slug}.test")
    page.fill("input[name=owner_password]", PASSWORD)
    page.click("form.signup-form button[type=submit]")

    # Posted to the platform host, redirected to the network's: form-action allows that hop.
    page.wait_for_url(re.compile(rf"^http://{slug}\.localhost:{live_server_port}/panel/$"))
    assert_styled(page)
    context.close()


def test_operator_sign_in_is_styled_under_the_policy(live_server_port, chromium):
    context = chromium.new_context(viewport=DESKTOP, locale="ru-RU")
    page = context.new_page()
    page.goto(f"http://localhost:{live_server_port}/operator/login/")
    page.wait_for_selector("input[name=username]")
    assert_styled(page)
    context.close()
