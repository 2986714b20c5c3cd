"""Getting in and staying safe, in a real Chromium: the second factor (TOTP), password reset, the
English translation, a suspended network, and the brute-force lockout (last: it locks the IP). The
tests share one network and run in file order: the English tour comes before the owner turns on
the second factor.

Every page visited is saved under tests/artifacts/panel/ at desktop and phone width.
"""

from __future__ import annotations

import re
import time

import pytest
from django.core import mail
from django.db import connection
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import tenant_context

from franchise_platform.network.models import NetworkSettings
from tenants.models import Network
from tests.panel.conftest import PanelSite
from tests.personas import make_persona_network, network_drop

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def _code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """A valid code; `steps_ahead` gives the next window's, since a code is accepted only once."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def test_panel_speaks_english_when_asked(panel_site, shoot):
    page = panel_site.new_page()
    page.goto(panel_site.url("/panel/login/"))
    page.click("button:has-text('English')")
    page.wait_for_selector("h1:has-text('Sign in')")
    shoot(page, "28-en-login")
    page.fill("input[name=username]", panel_site.net.owner.email)
    page.fill("input[name=password]", panel_site.net.owner.password)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(re.compile(r".*/panel/$"))
    assert page.locator("nav >> text=Partners").count() == 1
    page.click("nav >> text=Partners")
    page.click("main >> text=Add partner")
    shoot(page, "29-en-partner-new")
    page.click("button.lang:has-text('RU')")
    page.wait_for_selector("h1:has-text('Новый партнёр')")
    page.context.close()


def test_owner_turns_on_the_second_factor_and_login_then_asks_for_a_code(panel_site, shoot):
    net = panel_site.net
    page = panel_site.new_page()
    panel_site.login(page, net.owner)

    page.click("nav >> text=Безопасность")
    shoot(page, "20-security-off")
    page.click("button:has-text('Включить вход по коду')")
    page.wait_for_selector(".qr svg")
    shoot(page, "21-security-enrol")
    with tenant_context(net.network):
        device = TOTPDevice.objects.get(user__email=net.owner.email)
    assert device.confirmed is False
    page.fill("input[name=code]", "000000" if _code(device) != "000000" else "111111")
    page.click("button:has-text('Подтвердить и включить')")
    page.wait_for_selector("#field-code .field-error")
    time.sleep(1.1)  # django-otp makes the next try after a wrong code wait a second
    page.fill("input[name=code]", _code(device))
    page.click("button:has-text('Подтвердить и включить')")
    page.wait_for_selector(".alert-success")
    with tenant_context(net.network):
        device.refresh_from_db()
    assert device.confirmed is True
    shoot(page, "22-security-on")

    page.click("button:has-text('Выйти')")
    page.wait_for_url(re.compile(r".*/panel/login/$"))
    page.fill("input[name=username]", net.owner.email)
    page.fill("input[name=password]", net.owner.password)
    page.click("button:has-text('Войти')")
    page.wait_for_url(re.compile(r".*/panel/login/code/$"))
    shoot(page, "23-login-code")
    # Not logged in yet: the panel still sends the visitor to the login page.
    page.goto(panel_site.url("/panel/partners/"))
    assert "/panel/login/" in page.url
    page.goto(panel_site.url("/panel/login/"))
    page.fill("input[name=username]", net.owner.email)
    page.fill("input[name=password]", net.owner.password)
    page.click("button:has-text('Войти')")
    page.fill("input[name=code]", _code(device, steps_ahead=1))
    page.click("button:has-text('Подтвердить')")
    page.wait_for_url(re.compile(r".*/panel/$"))
    page.context.close()


def test_password_reset_by_email_then_login_with_the_new_password(panel_site, shoot):
    net = panel_site.net
    page = panel_site.new_page()
    page.goto(panel_site.url("/panel/login/"))
    page.click("text=Забыли пароль?")
    shoot(page, "24-reset-form")
    mail.outbox.clear()
    page.fill("input[name=email]", net.admin.email)
    page.click("button:has-text('Отправить ссылку')")
    page.wait_for_url(re.compile(r".*/password-reset/sent/$"))
    shoot(page, "25-reset-sent")
    assert len(mail.outbox) == 1
    link = re.search(r"http://\S+/panel/password-reset/\S+/", mail.outbox[0].body).group(0)
    # The link names the host the request came to: this network's, on the live server's port.
    assert link.startswith(panel_site.url("/panel/password-reset/"))
    page.goto(link)
    shoot(page, "26-reset-new-password")
    page.fill("input[name=new_password1]", "Brand-New-Secret-42")
    page.fill("input[name=new_password2]", "Brand-New-Secret-42")
    page.click("button:has-text('Сохранить пароль')")
    page.wait_for_url(re.compile(r".*/password-reset/done/$"))
    shoot(page, "27-reset-done")
    page.click("main >> text=Войти")
    page.fill("input[name=username]", net.admin.email)
    page.fill("input[name=password]", "Brand-New-Secret-42")
    page.click("button:has-text('Войти')")
    page.wait_for_url(re.compile(r".*/panel/$"))
    page.context.close()


@pytest.fixture(scope="module")
def suspended_network(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        net = make_persona_network(f"s{int(time.time() * 1000) % 10**9}", "Приостановленная сеть")
        Network.objects.filter(pk=net.network.pk).update(status=Network.Status.SUSPENDED)
    yield net
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        network_drop(net.network)


def test_suspended_network_shows_a_banner_and_refuses_every_change(
    suspended_network, live_server_port, chromium, shoot
):
    site = PanelSite(suspended_network, live_server_port, chromium)
    page = site.new_page()
    site.login(page, suspended_network.owner)
    assert "Сеть приостановлена" in page.inner_text(".banner")
    assert page.locator("text=Добавить партнёра").count() == 0
    shoot(page, "30-suspended-home")
    page.click("nav >> text=Настройки")
    status = page.evaluate(
        """async (url) => {
            const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
            const body = new URLSearchParams({prepayment_mode: "percent", prepayment_value: "10",
                                              invoice_ttl_hours: "1", item_name: "x"});
            return (await fetch(url, {method: "POST", body, headers: {"X-CSRFToken": token}})).status;
        }""",
        site.url("/panel/settings/"),
    )
    assert status == 403
    with tenant_context(suspended_network.network):
        assert NetworkSettings.objects.get_or_create(pk=1)[0].invoice_ttl_hours == 24
    shoot(page, "31-suspended-settings")
    page.context.close()


def test_five_wrong_passwords_lock_the_login_with_a_russian_page(panel_site, shoot):
    page = panel_site.new_page()
    page.goto(panel_site.url("/panel/login/"))
    for attempt in range(5):
        page.fill("input[name=username]", panel_site.net.viewer.email)
        page.fill("input[name=password]", f"wrong-{attempt}")
        page.click("button:has-text('Войти')")
        page.wait_for_load_state()
        if attempt < 4:
            assert "Неверный e-mail или пароль" in page.inner_text(".auth-card")
    assert page.locator("h1:has-text('Вход временно заблокирован')").count() == 1
    shoot(page, "32-lockout")
    # Even the right password is refused now.
    page.goto(panel_site.url("/panel/login/"))
    page.fill("input[name=username]", panel_site.net.viewer.email)
    page.fill("input[name=password]", panel_site.net.viewer.password)
    page.click("button:has-text('Войти')")
    page.wait_for_load_state()
    assert page.locator("h1:has-text('Вход временно заблокирован')").count() == 1
    page.context.close()
