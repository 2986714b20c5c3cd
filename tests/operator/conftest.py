"""Platform operators: staff users of the PUBLIC schema, always with a second factor."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from franchise_platform.accounts.models import User
from tests.personas import platform_client

OPERATOR_PASSWORD = "Operator-Pass-2026!"


def totp_code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """A valid code; `steps_ahead` gives a later window's, since each code is accepted once."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


@dataclass
class Operator:
    user: User
    device: TOTPDevice | None = None

    @property
    def email(self) -> str:
        return self.user.email


def make_operator(email: str = "ops@platform.test", *, enrolled: bool = True) -> Operator:
    assert connection.schema_name == "public"
    user = User.objects.create_user(email=email, password=OPERATOR_PASSWORD, is_staff=True)
    device = None
    if enrolled:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    return Operator(user, device)


def operator_login(operator: Operator, client: Client | None = None) -> Client:
    """Through the real login: password, then the code."""
    client = client or platform_client()
    response = client.post(
        "/operator/login/", {"username": operator.email, "password": OPERATOR_PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == "/operator/login/code/"
    assert operator.device is not None
    done = client.post("/operator/login/code/", {"code": totp_code(operator.device)})
    assert done.status_code == 302, done.content.decode()[:300]
    return client


@pytest.fixture
def operator(db) -> Operator:
    return make_operator()


@pytest.fixture
def console(operator) -> Client:
    return operator_login(operator)


# ---- browser tests: the panel suite's live server and Chromium; screenshots with onboarding's --

from tests.onboarding.conftest import shoot  # noqa: E402, F401
from tests.panel.conftest import chromium, csp_clean, live_server_port  # noqa: E402, F401
