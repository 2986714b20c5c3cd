"""The core's only way to a payment provider: the registry, with options from settings, and the
shop's credentials decrypted into the provider's dataclass just before a call."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from billing_providers import registry
from billing_providers.base import BillingProvider
from billing_providers.base import ProviderAccount as ProviderAccountData
from franchise_platform.network.models import ProviderAccount

from .models import SETTLEMENT_NUMBER_BASE, Invoice, SettlementReceipt


class StoredReferences:
    """The provider's own ids the core keeps (``BillingProvider.uses_references``): the payment
    of an invoice (``Invoice.provider_reference``) and a settlement receipt's id
    (``SettlementReceipt.provider_reference``). Read in the current network's schema."""

    def payment_id(self, invoice_id: int) -> str | None:
        found = (
            Invoice.objects.filter(pk=invoice_id)
            .values_list("provider_reference", flat=True)
            .first()
        )
        return found or None

    def receipt_id(self, receipt_number: int) -> str | None:
        found = (
            SettlementReceipt.objects.filter(pk=receipt_number - SETTLEMENT_NUMBER_BASE)
            .values_list("provider_reference", flat=True)
            .first()
        )
        return found or None


def provider_options(slug: str) -> dict[str, Any]:
    options: dict[str, Any] = dict(getattr(settings, "BILLING_PROVIDER_OPTIONS", {}).get(slug, {}))
    options = {k: v for k, v in options.items() if v not in (None, "")}
    if registry.get_provider_class(slug).uses_references:
        options.setdefault("references", StoredReferences())
    return options


def provider_get(slug: str) -> BillingProvider:
    return registry.get_provider(slug, **provider_options(slug))


def account_data(account: ProviderAccount, *, test_mode: bool | None = None) -> ProviderAccountData:
    """The shop as the provider sees it. `test_mode` overrides the stored flag (a test invoice)."""
    secrets = {
        name: value
        for name in ProviderAccount.SECRET_FIELDS
        if (value := getattr(account, name)) not in (None, "")
    }
    stored = account.provider_secrets
    if isinstance(stored, dict):
        secrets.update({str(k): str(v) for k, v in stored.items() if v not in (None, "")})
    return ProviderAccountData(
        login=account.merchant_login,
        secrets=secrets,
        hash_algorithm=account.hash_algorithm,
        test_mode=account.test_mode if test_mode is None else test_mode,
        fiscalization=account.fiscalization,
    )
