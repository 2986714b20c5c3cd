"""A newcomer signs up on the landing in a real Chromium against a real server, is told about a
wrong and a taken address beside the field, and lands logged in on the new network's own host with
the checklist at 0 of 6. Screenshots: tests/artifacts/onboarding/ (desktop and 390 px)."""

from __future__ import annotations

import re
import uuid

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from franchise_platform.accounts.models import User
from tenants.models import Network
from tests.personas import make_persona_network, network_drop

from .conftest import DESKTOP, PASSWORD

# The django_db mark lets the live server's thread reach the database (pytest-django blocks it
# otherwise); what the server writes is committed, so the module's fixture drops it afterwards.
pytestmark = [pytest.mark.browser, pytest.mark.django_db]


@pytest.fixture(scope="module")
def taken(django_db_setup, django_db_blocker):
    """An existing network (committed, so the live server sees it), and cleanup of the new ones."""
    slugs: list[str] = []
    with django_db_blocker.unblock():
        net = make_persona_network(f"taken{uuid.uuid4().hex[:6]}", "Занятая сеть")
    yield net, slugs
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        network_drop(net.network)
        for slug in slugs:
            for network in Network.objects.filter(slug=slug):
                network.delete(force_drop=True)


def test_newcomer_signs_up_and_lands_in_the_panel(taken, live_server_port, chromium, shoot):
    existing, created = taken
    slug = f"kvest{uuid.uuid4().hex[:6]}"
    created.append(slug)
    base = f"http://localhost:{live_server_port}"
    page = chromium.new_context(viewport=DESKTOP, locale="ru-RU").new_page()

    page.goto(base + "/")
    assert page.locator("h1").inner_text().startswith("Оплата по сделке")
    assert page.locator(".how-step").count() == 3
    shoot(page, "01-landing")

    page.click(".hero-cta >> text=Создать сеть")
    page.wait_for_url(re.compile(r".*/signup/$"))
    shoot(page, "02-signup")

    # A wrong address: the live check says why while typing.
    page.fill("input[name=slug]", "-ab")
    page.wait_for_selector("#slug-hint .slug-invalid")
    assert "от 3 до 40 символов" in page.inner_text("#slug-hint")
    # A taken one, and a look-alike of it.
    page.fill("input[name=slug]", existing.network.slug)
    page.wait_for_selector("#slug-hint .slug-taken")
    assert "уже занят" in page.inner_text("#slug-hint")
    page.fill("input[name=slug]", existing.network.slug.replace("t", "l", 1))
    page.wait_for_selector("#slug-hint .slug-invalid")
    assert "слишком похож" in page.inner_text("#slug-hint")

    # Submitted anyway, with a weak password: every problem beside its field, nothing created.
    page.fill("input[name=network_name]", "Квесты Казани")
    page.fill("input[name=slug]", existing.network.slug)
    page.fill("input[name=owner_email]", f"owner@{slug}.test")
    page.fill("input[name=owner_password]", "12345")
    page.click("form.signup-form button[type=submit]")
    page.wait_for_selector("#field-owner_password .field-error")
    assert "уже занят" in page.inner_text("#field-slug")
    assert "Пароль слишком простой" in page.inner_text("#field-owner_password")
    assert not Network.objects.filter(owner_email=f"owner@{slug}.test").exists()
    shoot(page, "03-signup-errors")

    page.fill("input[name=slug]", slug)
    page.wait_for_selector("#slug-hint .slug-free")
    page.fill("input[name=owner_password]", PASSWORD)
    page.click("form.signup-form button[type=submit]")

    page.wait_for_url(re.compile(rf"^http://{slug}\.localhost:{live_server_port}/panel/$"))
    assert page.inner_text("#onboarding-count").strip() == "0 из 6"
    assert page.locator(".onboarding-step").count() == 6
    assert page.locator("#verify-email-banner").is_visible()
    shoot(page, "04-panel-checklist")
    network = Network.objects.get(slug=slug)
    assert network.name == "Квесты Казани"
    with tenant_context(network):
        assert User.objects.get().email == f"owner@{slug}.test"

    # The session lives on the network's host only: without its cookie the panel asks to log in.
    page.context.clear_cookies()
    page.goto(f"http://{slug}.localhost:{live_server_port}/panel/")
    assert "/panel/login/" in page.url
    page.context.close()


def test_landing_and_signup_in_english(live_server_port, chromium, shoot):
    page = chromium.new_context(viewport=DESKTOP, locale="en-US").new_page()
    page.goto(f"http://localhost:{live_server_port}/")
    page.click("button.lang:has-text('EN')")
    page.wait_for_selector("h1:has-text('Payment for a deal')")
    shoot(page, "05-landing-en")
    page.click(".hero-cta >> text=Create a network")
    page.wait_for_selector("h1:has-text('Sign up a network')")
    shoot(page, "06-signup-en")
    page.context.close()
