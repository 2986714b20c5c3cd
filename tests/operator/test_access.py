"""Only staff of the public schema, with a verified second factor, reach /operator/; the second
factor is set up on the first login and cannot be skipped."""

from __future__ import annotations

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from franchise_platform.accounts.models import User
from tests.personas import platform_client

from .conftest import OPERATOR_PASSWORD, make_operator, operator_login, totp_code

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_the_console_login():
    response = platform_client().get("/operator/")
    assert response.status_code == 302
    assert response["Location"].startswith("/operator/login/?next=/operator/")


def test_login_page_says_a_code_will_be_needed():
    html = platform_client().get("/operator/login/").content.decode()
    assert "Вход для операторов" in html and "код из приложения" in html


def test_first_login_enrols_the_authenticator_before_the_console_opens():
    operator = make_operator(enrolled=False)
    client = platform_client()

    response = client.post(
        "/operator/login/", {"username": operator.email, "password": OPERATOR_PASSWORD}
    )
    assert response["Location"] == "/operator/login/enrol/"
    page = client.get("/operator/login/enrol/")
    assert "<svg" in page.content.decode()  # the QR code
    assert client.get("/operator/").status_code == 302  # not in yet
    device = TOTPDevice.objects.get(user=operator.user, confirmed=False)

    wrong = client.post(
        "/operator/login/enrol/", {"code": "000000" if totp_code(device) != "000000" else "111111"}
    )
    assert "Код не подошёл" in wrong.content.decode()
    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.save()
    done = client.post("/operator/login/enrol/", {"code": totp_code(device)})

    assert done.status_code == 302 and done["Location"] == "/operator/"
    assert TOTPDevice.objects.get(user=operator.user).confirmed
    assert client.get("/operator/").status_code == 200


def test_enrolled_operator_logs_in_with_password_and_code(operator):
    client = operator_login(operator)
    assert client.get("/operator/").status_code == 200


def test_a_wrong_code_keeps_the_console_closed(operator):
    client = platform_client()
    client.post("/operator/login/", {"username": operator.email, "password": OPERATOR_PASSWORD})

    response = client.post(
        "/operator/login/code/",
        {"code": "000000" if totp_code(operator.device) != "000000" else "111111"},
    )

    assert "Код не подошёл" in response.content.decode()
    assert client.get("/operator/").status_code == 302


def test_a_session_without_the_second_factor_is_thrown_out(operator):
    client = platform_client()
    client.force_login(operator.user)  # a session that skipped the code

    response = client.get("/operator/")

    assert response.status_code == 302 and "/operator/login/" in response["Location"]
    assert "_auth_user_id" not in client.session


def test_a_public_user_who_is_not_staff_is_refused():
    User.objects.create_user(email="someone@platform.test", password=OPERATOR_PASSWORD)
    response = platform_client().post(
        "/operator/login/", {"username": "someone@platform.test", "password": OPERATOR_PASSWORD}
    )
    assert response.status_code == 200
    assert "нет доступа к консоли" in response.content.decode()


def test_a_network_owner_cannot_log_into_the_console(owner_a):
    response = platform_client().post(
        "/operator/login/", {"username": owner_a.email, "password": owner_a.password}
    )
    assert response.status_code == 200
    assert "Неверный e-mail или пароль" in response.content.decode()


def test_the_console_does_not_exist_on_a_network_host(net_a, operator):
    assert net_a.anonymous().get("/operator/").status_code == 404


def test_logout_closes_the_console(console):
    console.post("/operator/logout/")
    assert console.get("/operator/").status_code == 302
