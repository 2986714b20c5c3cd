"""The operator in a real Chromium: first login enrols the authenticator (QR), the console lists
the networks, the operator suspends one, and its owner sees the banner in the panel. Screenshots:
tests/artifacts/onboarding/ (desktop and 390 px)."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from django.db import connection
from django_otp.plugins.otp_totp.models import TOTPDevice

from franchise_platform.accounts.models import User
from tenants.models import Network
from tests.panel.conftest import DESKTOP
from tests.personas import make_persona_network, network_drop

from .conftest import OPERATOR_PASSWORD, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


@pytest.fixture(scope="module")
def committed(django_db_setup, django_db_blocker):
    """An operator without a second factor yet and a network to act on, both committed."""
    email = f"ops-{uuid.uuid4().hex[:6]}@platform.test"
    with django_db_blocker.unblock():
        User.objects.create_user(email=email, password=OPERATOR_PASSWORD, is_staff=True)
        net = make_persona_network(f"q{uuid.uuid4().hex[:8]}", "Квест-сеть «Лабиринт»")
    yield email, net
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        network_drop(net.network)
        User.objects.filter(email=email).delete()


def test_operator_enrols_suspends_a_network_and_its_owner_sees_the_banner(
    committed, live_server_port, chromium, shoot
):
    email, net = committed
    base = f"http://localhost:{live_server_port}"
    page = chromium.new_context(viewport=DESKTOP, locale="ru-RU").new_page()

    page.goto(base + "/operator/")
    page.wait_for_url(re.compile(r".*/operator/login/\?next=/operator/$"))
    shoot(page, "10-operator-login")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", OPERATOR_PASSWORD)
    page.click("button[type=submit]")

    # First login: the authenticator is set up before anything else.
    page.wait_for_url(re.compile(r".*/operator/login/enrol/$"))
    assert page.locator(".qr svg").count() == 1
    shoot(page, "11-operator-enrol")
    device = TOTPDevice.objects.get(user__email=email, confirmed=False)
    page.fill("input[name=code]", totp_code(device))
    page.click("button[type=submit]")

    page.wait_for_url(re.compile(r".*/operator/$"))
    row = page.locator(f"tr[data-slug='{net.network.slug}']")
    assert row.count() == 1
    assert "не подключена" in row.inner_text()
    shoot(page, "12-operator-networks")

    row.locator("a.row-title").click()
    page.wait_for_url(re.compile(rf".*/operator/networks/{net.network.slug}/$"))
    page.fill("input[name=reason]", "Не оплачен тариф")
    page.click("button:has-text('Приостановить')")
    page.wait_for_selector(".alert-success")
    assert page.inner_text("#network-status").strip() == "Приостановлена"
    assert Network.objects.get(pk=net.network.pk).is_suspended
    shoot(page, "13-operator-network-suspended")

    # The owner, in another browser: the panel says so and offers no edits.
    owner = chromium.new_context(viewport=DESKTOP, locale="ru-RU").new_page()
    owner.goto(f"http://{net.host}:{live_server_port}/panel/login/")
    owner.fill("input[name=username]", net.owner.email)
    owner.fill("input[name=password]", net.owner.password)
    owner.click("button[type=submit]:has-text('Войти')")
    owner.wait_for_url(re.compile(r".*/panel/$"))
    assert "Сеть приостановлена" in owner.inner_text(".banner-warning")
    assert owner.locator("text=Добавить партнёра").count() == 0
    shoot(owner, "14-panel-suspended")
    owner.context.close()

    # Next login asks for the code (no second enrolment).
    page.click("button:has-text('Выйти')")
    page.wait_for_url(re.compile(r".*/operator/login/$"))
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", OPERATOR_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/operator/login/code/$"))
    shoot(page, "15-operator-login-code")
    time.sleep(0.1)
    device.refresh_from_db()
    page.fill("input[name=code]", totp_code(device, steps_ahead=1))
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/operator/$"))

    page.click(f"tr[data-slug='{net.network.slug}'] a.row-title")
    page.click("button:has-text('Возобновить работу')")
    page.wait_for_selector(".alert-success")
    assert not Network.objects.get(pk=net.network.pk).is_suspended
    page.context.close()
