"""The core's only way to a payment provider: the registry, with options from settings, and the
shop's credentials decrypted into the provider's dataclass just before a call."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from billing_providers import registry
from billing_providers.base import BillingProvider
from billing_providers.base import ProviderAccount as ProviderAccountData
from franchise_platform.network.models import ProviderAccount


def provider_options(slug: str) -> dict[str, Any]:
    options: dict[str, Any] = dict(getattr(settings, "BILLING_PROVIDER_OPTIONS", {}).get(slug, {}))
    return {k: v for k, v in options.items() if v not in (None, "")}


def provider_get(slug: str) -> BillingProvider:
    return registry.get_provider(slug, **provider_options(slug))


def account_data(account: ProviderAccount, *, test_mode: bool | None = None) -> ProviderAccountData:
    """The shop as the provider sees it. `test_mode` overrides the stored flag (a test invoice)."""
    secrets = {
        name: value
        for name in ProviderAccount.SECRET_FIELDS
        if (value := getattr(account, name)) not in (None, "")
    }
    return ProviderAccountData(
        login=account.merchant_login,
        secrets=secrets,
        hash_algorithm=account.hash_algorithm,
        test_mode=account.test_mode if test_mode is None else test_mode,
        fiscalization=account.fiscalization,
    )
