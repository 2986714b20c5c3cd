"""The operator console's sign-in is slowed down like the panel's: per e-mail and address, so
guessing from one address never keeps an operator out from another."""

from __future__ import annotations

import pytest

from tests.personas import platform_client

from .conftest import OPERATOR_PASSWORD, operator_login

pytestmark = pytest.mark.django_db


def _login(email: str, password: str, ip: str):
    return platform_client().post(
        "/operator/login/", {"username": email, "password": password}, REMOTE_ADDR=ip
    )


def test_failures_from_one_address_are_answered_429_in_russian(operator):
    answers = [_login(operator.email, "wrong", "198.51.100.66") for _ in range(5)]
    right_from_there = _login(operator.email, OPERATOR_PASSWORD, "198.51.100.66")

    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    assert right_from_there.status_code == 429
    assert "Слишком много неудачных попыток входа" in right_from_there.content.decode()


def test_failures_from_one_address_never_stop_the_operator_from_another(operator):
    for _ in range(8):
        _login(operator.email, "wrong", "198.51.100.66")

    client = operator_login(operator)  # from the test client's own address

    assert client.get("/operator/").status_code == 200


def test_a_network_export_leaves_the_failed_sign_ins_out():
    from tenants.export import _tenant_models

    labels = {model._meta.label_lower for model in _tenant_models()}

    assert "accounts.loginthrottle" not in labels and "accounts.user" in labels
