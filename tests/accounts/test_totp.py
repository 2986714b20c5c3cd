"""The second factor: a code opens one door once, even when sent twice at the same moment; every
role, viewers included, can turn it on for their own account."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import tenant_context

from franchise_platform.accounts import views as account_views
from franchise_platform.accounts.models import User
from franchise_platform.accounts.services import totp_device_confirm, totp_device_start


def _code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def _password_step(host: str, email: str, password: str) -> Client:
    client = Client(HTTP_HOST=host)
    response = client.post("/panel/login/", {"username": email, "password": password})
    assert response["Location"] == "/panel/login/code/"
    return client


def test_one_code_sent_twice_at_the_same_moment_logs_in_once(
    fresh_network, django_db_blocker, monkeypatch
):
    """Two sessions past the password step send the same code; both have read the device before
    either checks the code (they meet at a barrier), as two parallel requests would."""
    owner = fresh_network.owner
    with django_db_blocker.unblock(), tenant_context(fresh_network.network):
        device = totp_device_start(user=User.objects.get(email=owner.email))
        assert totp_device_confirm(device=device, code=_code(device), actor=owner.email)
        clients = [_password_step(owner.host, owner.email, owner.password) for _ in range(2)]
    code = _code(device, steps_ahead=1)

    both_read = threading.Barrier(2)
    original_get = account_views.totp_device_get

    def get_then_wait(**kwargs):
        found = original_get(**kwargs)
        both_read.wait(timeout=10)
        return found

    monkeypatch.setattr(account_views, "totp_device_get", get_then_wait)
    answers: list[object] = []

    def send(client: Client) -> None:
        try:
            with django_db_blocker.unblock():
                answers.append(client.post("/panel/login/code/", {"code": code}).status_code)
        except BaseException as exc:
            answers.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(answers) == [200, 302], answers  # one logged in, one told the code did not fit
    with django_db_blocker.unblock():
        signed_in = [c.get("/panel/").status_code == 200 for c in clients]
    assert sorted(signed_in) == [False, True]


@pytest.mark.django_db
def test_a_code_that_logged_in_does_not_log_in_another_session(owner_a, net_a):
    with tenant_context(net_a.network):
        device = totp_device_start(user=User.objects.get(email=owner_a.email))
        assert totp_device_confirm(device=device, code=_code(device), actor=owner_a.email)
    code = _code(device, steps_ahead=1)
    first = _password_step(net_a.host, owner_a.email, owner_a.password)
    second = _password_step(net_a.host, owner_a.email, owner_a.password)

    assert first.post("/panel/login/code/", {"code": code})["Location"] == "/panel/"
    replay = second.post("/panel/login/code/", {"code": code})

    assert replay.status_code == 200 and "Код не подошёл" in replay.content.decode()
    assert second.get("/panel/").status_code == 302


@pytest.mark.django_db
def test_a_viewer_turns_the_second_factor_on_for_their_own_account(viewer_a, net_a):
    client = viewer_a.browser_client()

    home = client.get("/panel/").content.decode()
    page = client.get("/panel/security/")
    client.post("/panel/security/", {"step": "start"})
    with tenant_context(net_a.network):
        device = TOTPDevice.objects.get(user__email=viewer_a.email, confirmed=False)
    confirmed = client.post("/panel/security/", {"step": "confirm", "code": _code(device)})

    assert 'href="/panel/security/"' in home
    assert page.status_code == 200
    assert confirmed.status_code == 302
    with tenant_context(net_a.network):
        assert TOTPDevice.objects.get(pk=device.pk).confirmed
    # From now on the viewer's password alone does not open the panel.
    assert _password_step(net_a.host, viewer_a.email, viewer_a.password)


@pytest.mark.django_db
def test_a_viewer_still_cannot_change_the_network(viewer_a):
    response = viewer_a.browser_client().post("/panel/settings/", {})

    assert response.status_code == 403
