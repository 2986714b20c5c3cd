"""Getting into the panel: password, the optional second factor, brute-force lockout, password
reset and logout. Through Django's test client on a network host."""

from __future__ import annotations

import re
import time

import pytest
from django.core import mail
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import tenant_context

from franchise_platform.accounts.models import User
from franchise_platform.accounts.services import totp_device_confirm, totp_device_start
from franchise_platform.security.models import AuditEntry

pytestmark = pytest.mark.django_db


def _login(
    client, email: str, password: str, *, next_url: str | None = None, ip: str = "127.0.0.1"
):
    data = {"username": email, "password": password}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/panel/login/", data, REMOTE_ADDR=ip)


def _code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def _enrolled(persona) -> TOTPDevice:
    with tenant_context(persona.network):
        user = User.objects.get(email=persona.email)
        device = totp_device_start(user=user)
        assert totp_device_confirm(device=device, code=_code(device), actor=user.email)
        return device


def test_login_page_is_in_russian(net_a):
    html = net_a.anonymous().get("/panel/login/").content.decode()

    assert "Вход в панель" in html and "Забыли пароль?" in html


def test_right_password_logs_in_and_follows_next(owner_a, net_a):
    client = net_a.anonymous()

    response = _login(client, owner_a.email, owner_a.password, next_url="/panel/settings/")

    assert (response.status_code, response["Location"]) == (302, "/panel/settings/")
    assert client.get("/panel/settings/").status_code == 200


def test_next_pointing_elsewhere_is_ignored(owner_a, net_a):
    response = _login(
        net_a.anonymous(), owner_a.email, owner_a.password, next_url="https://evil.example/"
    )

    assert response["Location"] == "/panel/"


def test_wrong_password_says_so_in_russian(owner_a, net_a):
    response = _login(net_a.anonymous(), owner_a.email, "wrong-password")

    assert response.status_code == 200
    assert "Неверный e-mail или пароль." in response.content.decode()


def test_logout_ends_the_session(owner_a):
    client = owner_a.browser_client()

    response = client.post("/panel/logout/")

    assert (response.status_code, response["Location"]) == (302, "/panel/login/")
    assert client.get("/panel/").status_code == 302


def test_with_the_second_factor_the_password_alone_does_not_log_in(owner_a, net_a):
    device = _enrolled(owner_a)
    client = net_a.anonymous()

    step_one = _login(client, owner_a.email, owner_a.password)
    before_code = client.get("/panel/")
    wrong = client.post("/panel/login/code/", {"code": "12345x"})
    time.sleep(1.1)  # django-otp throttles the try after a wrong code
    right = client.post("/panel/login/code/", {"code": _code(device, steps_ahead=1)})

    assert step_one["Location"] == "/panel/login/code/"
    assert before_code.status_code == 302
    assert wrong.status_code == 200
    assert right["Location"] == "/panel/"
    assert client.get("/panel/").status_code == 200


def test_a_wrong_code_is_refused_and_throttled(owner_a, net_a):
    device = _enrolled(owner_a)
    client = net_a.anonymous()
    _login(client, owner_a.email, owner_a.password)

    wrong = client.post(
        "/panel/login/code/", {"code": "000000" if _code(device) != "000000" else "111111"}
    )
    right_too_soon = client.post("/panel/login/code/", {"code": _code(device, steps_ahead=1)})

    assert "Код не подошёл" in wrong.content.decode()
    assert "Код не подошёл" in right_too_soon.content.decode()
    assert client.get("/panel/").status_code == 302


def test_code_step_without_the_password_step_goes_back_to_login(net_a):
    assert net_a.anonymous().get("/panel/login/code/")["Location"] == "/panel/login/"


def test_a_session_that_skipped_the_code_is_not_trusted(owner_a):
    _enrolled(owner_a)
    client = owner_a.browser_client()  # force_login: no second factor on this session

    response = client.get("/panel/")

    assert response.status_code == 302
    assert response["Location"].startswith("/panel/login/")


def test_security_page_enrols_with_a_qr_code_and_a_confirming_code(owner_a, net_a):
    client = owner_a.browser_client()

    off = client.get("/panel/security/").content.decode()
    client.post("/panel/security/", {"step": "start"})
    enrol = client.get("/panel/security/").content.decode()
    with tenant_context(net_a.network):
        device = TOTPDevice.objects.get(user__email=owner_a.email, confirmed=False)
    confirmed = client.post("/panel/security/", {"step": "confirm", "code": _code(device)})

    assert "Вход по коду выключен" in off
    assert "<svg" in enrol and "Введите ключ вручную" in enrol
    assert confirmed.status_code == 302
    with tenant_context(net_a.network):
        assert TOTPDevice.objects.get(pk=device.pk).confirmed is True
        assert AuditEntry.objects.filter(action="totp.enable").exists()
    # The session that proved the code stays in.
    assert client.get("/panel/").status_code == 200


def test_second_factor_is_turned_off_only_with_a_current_code(owner_a, net_a):
    client = net_a.anonymous()
    device = _enrolled(owner_a)
    _login(client, owner_a.email, owner_a.password)
    client.post("/panel/login/code/", {"code": _code(device, steps_ahead=1)})

    client.post("/panel/security/", {"step": "disable", "code": "12345"})
    with tenant_context(net_a.network):
        still_on = TOTPDevice.objects.filter(user__email=owner_a.email).exists()
    time.sleep(1.1)
    # Codes are single-use and the login took the next window's: the one after it is still valid.
    client.post("/panel/security/", {"step": "disable", "code": _code(device, steps_ahead=2)})

    assert still_on
    with tenant_context(net_a.network):
        assert not TOTPDevice.objects.filter(user__email=owner_a.email).exists()


def test_password_reset_mails_a_link_on_the_network_host_and_sets_a_new_password(net_a):
    admin_a = net_a.admin
    client = net_a.anonymous()
    mail.outbox.clear()

    sent = client.post("/panel/password-reset/", {"email": admin_a.email})
    link = re.search(r"http://(\S+?)(/panel/password-reset/\S+/)", mail.outbox[0].body)
    form_page = client.get(link.group(2), follow=True)
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "Fresh-Password-2026", "new_password2": "Fresh-Password-2026"},
    )

    assert sent["Location"] == "/panel/password-reset/sent/"
    assert link.group(1) == net_a.host
    assert net_a.network.name in mail.outbox[0].subject
    assert done["Location"] == "/panel/password-reset/done/"
    assert _login(net_a.anonymous(), admin_a.email, "Fresh-Password-2026").status_code == 302


def test_password_reset_for_an_unknown_email_sends_nothing_and_says_the_same(net_a):
    mail.outbox.clear()

    response = net_a.anonymous().post("/panel/password-reset/", {"email": "stranger@example.com"})

    assert response["Location"] == "/panel/password-reset/sent/"
    assert mail.outbox == []


def test_a_new_password_lifts_the_lockout_of_that_email(viewer_a, net_a):
    for _ in range(5):
        _login(net_a.anonymous(), viewer_a.email, "wrong", ip="10.2.1.1")
    assert (
        _login(net_a.anonymous(), viewer_a.email, viewer_a.password, ip="10.2.1.1").status_code
        == 429
    )
    client = net_a.anonymous()
    mail.outbox.clear()
    client.post("/panel/password-reset/", {"email": viewer_a.email}, REMOTE_ADDR="10.2.1.1")
    path = re.search(r"http://\S+?(/panel/password-reset/\S+/)", mail.outbox[0].body).group(1)
    page = client.get(path, follow=True, REMOTE_ADDR="10.2.1.1")
    client.post(
        page.redirect_chain[-1][0],
        {"new_password1": "Fresh-Password-2026", "new_password2": "Fresh-Password-2026"},
        REMOTE_ADDR="10.2.1.1",
    )

    response = _login(net_a.anonymous(), viewer_a.email, "Fresh-Password-2026", ip="10.2.1.1")

    assert response.status_code == 302
