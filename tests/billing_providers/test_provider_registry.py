"""The registry, the error hierarchy and the package boundary."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import billing_providers
from billing_providers.base import BillingProvider, ProviderAccount
from billing_providers.dummy.provider import DummyProvider
from billing_providers.errors import (
    ProviderConfigError,
    ProviderError,
    ProviderResponseError,
    ProviderUnavailable,
)
from billing_providers.registry import (
    PROVIDERS,
    get_provider,
    provider_choices,
    signature_field_names,
)
from billing_providers.robokassa.provider import RobokassaProvider

PACKAGE = Path(billing_providers.__file__).parent


def test_registry_builds_each_provider_with_options():
    robokassa = get_provider("robokassa", payment_url="http://fake/pay", timeout=3.0)
    assert isinstance(robokassa, RobokassaProvider)
    assert robokassa.payment_url == "http://fake/pay"
    assert isinstance(get_provider("dummy"), DummyProvider)
    for slug in PROVIDERS:
        provider = get_provider(slug)
        assert isinstance(provider, BillingProvider)
        assert provider.slug == slug


def test_unknown_slug_is_a_config_error():
    with pytest.raises(ProviderConfigError) as caught:
        get_provider("paypal")
    assert caught.value.code == "unknown_provider"


def test_provider_choices():
    assert provider_choices() == [
        ("robokassa", "Robokassa"),
        ("yookassa", "ЮKassa"),
        ("dummy", "Dummy (local development)"),
    ]


def test_error_hierarchy_and_retry_flags():
    for cls in (ProviderConfigError, ProviderUnavailable, ProviderResponseError):
        assert issubclass(cls, ProviderError)
    assert ProviderConfigError("x").permanent is True
    assert ProviderUnavailable("x").permanent is False
    assert ProviderResponseError("x").permanent is True
    assert ProviderResponseError("x", permanent=False).permanent is False
    error = ProviderUnavailable("Robokassa did not answer", code="timeout")
    assert (error.code, str(error)) == ("timeout", "Robokassa did not answer")
    assert "timeout" in repr(error)


def test_errors_survive_pickling_with_their_flags():
    error = ProviderResponseError("bad", code="bad_xml", permanent=False)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.code, copy.permanent, str(copy)) == (
        ProviderResponseError,
        "bad_xml",
        False,
        "bad",
    )


def test_package_imports_neither_django_nor_the_core():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")) and any(
                name in stripped.split()[1] for name in ("django", "franchise_platform", "tenants")
            ):
                offenders.append(f"{path.name}: {stripped}")
    assert offenders == []


def test_package_loads_without_django_installed_in_sys_modules():
    code = (
        "import sys; import billing_providers.registry as r; "
        "[r.get_provider(s) for s in r.PROVIDERS]; "
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules), "
        "'django was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent)


def test_no_floats_in_money_code():
    for path in PACKAGE.rglob("*.py"):
        assert "float(" not in path.read_text(), path


def test_each_provider_names_its_signature_fields_for_masking():
    assert signature_field_names() == {"signaturevalue", "sig"}


def test_a_provider_that_signs_no_buyer_return_refuses_to_vouch_for_one():
    verdict = DummyProvider().verify_success_redirect(
        ProviderAccount(login="x", secrets={"password2": "p"}),
        {"inv": "1", "sum": "10.00", "sig": "abc"},
    )

    assert not verdict.accepted and verdict.reason_code == "not_supported"
