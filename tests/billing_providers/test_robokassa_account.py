"""Robokassa's account declaration names exactly the settings the core stores for a Robokassa
shop (the secrets its password columns, the addresses its callback paths)."""

from __future__ import annotations

from billing_providers.base import account_problems
from billing_providers.robokassa.account import ACCOUNT_FIELDS, CABINET_ADDRESSES


def test_the_declared_secrets_are_the_cores_password_columns():
    from franchise_platform.network.models import ProviderAccount

    secrets = tuple(spec.name for spec in ACCOUNT_FIELDS if spec.secret)
    assert sorted(secrets) == sorted(ProviderAccount.SECRET_FIELDS)
    (login,) = [spec.name for spec in ACCOUNT_FIELDS if spec.target == "login"]
    assert login == "merchant_login"


def test_the_addresses_are_robokassas_callback_paths():
    assert [a.path for a in CABINET_ADDRESSES] == [
        "/callbacks/robokassa/{partner_id}/result/",
        "/callbacks/robokassa/{partner_id}/success/",
        "/callbacks/robokassa/{partner_id}/fail/",
    ]


def test_the_declaration_checks_a_new_shop():
    assert account_problems(ACCOUNT_FIELDS, {"merchant_login": "shop"}) == {
        "password1": "required",
        "password2": "required",
    }
    assert account_problems(
        ACCOUNT_FIELDS, {"merchant_login": "two words", "password1": "a", "password2": "b"}
    ) == {"merchant_login": "bad_format"}
