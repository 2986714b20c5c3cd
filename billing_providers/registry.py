"""Slug → adapter class, imported on first use so the core never imports a vendor module."""

from __future__ import annotations

import importlib
from typing import Any

from billing_providers.base import BillingProvider
from billing_providers.errors import ProviderConfigError

PROVIDERS: dict[str, str] = {
    "robokassa": "billing_providers.robokassa.provider.RobokassaProvider",
    "yookassa": "billing_providers.yookassa.provider.YooKassaProvider",
    "dummy": "billing_providers.dummy.provider.DummyProvider",
}

# The provider of a shop given without a choice: the panel form and the API before the choice
# existed (and the shop model's default).
DEFAULT_PROVIDER = "robokassa"

_LABELS: dict[str, str] = {
    "robokassa": "Robokassa",
    "yookassa": "ЮKassa",
    "dummy": "Dummy (local development)",
}


def get_provider_class(slug: str) -> type[BillingProvider]:
    """The adapter class registered under ``slug``.

    Raises ProviderConfigError for an unknown slug or a path that is not a BillingProvider."""
    try:
        dotted = PROVIDERS[slug]
    except KeyError:
        raise ProviderConfigError(
            f"Unknown billing provider {slug!r}", code="unknown_provider"
        ) from None
    module_name, _, class_name = dotted.rpartition(".")
    provider_class = getattr(importlib.import_module(module_name), class_name, None)
    if not (isinstance(provider_class, type) and issubclass(provider_class, BillingProvider)):
        raise ProviderConfigError(f"{dotted} is not a BillingProvider", code="bad_provider_path")
    return provider_class


def get_provider(slug: str, **options: Any) -> BillingProvider:
    """A new adapter for ``slug`` built with ``options`` (its constructor's keyword
    arguments, e.g. ``payment_url=`` for Robokassa). Raises ProviderConfigError for an
    unknown slug; TypeError for options the adapter does not take."""
    return get_provider_class(slug)(**options)


def provider_choices() -> list[tuple[str, str]]:
    """``(slug, label)`` pairs for forms and model choices, in registry order."""
    return [(slug, provider_label(slug)) for slug in PROVIDERS]


def declaring_providers() -> list[type[BillingProvider]]:
    """The registered adapters that declare their account fields, in registry order: the ones a
    partner's shop can be at."""
    classes = [get_provider_class(slug) for slug in PROVIDERS]
    return [provider_class for provider_class in classes if provider_class.account_fields]


def provider_label(slug: str) -> str:
    """The provider's name for people (its slug when it has none)."""
    return _LABELS.get(slug, slug)


def signature_field_names() -> frozenset[str]:
    """The signature-carrying field names (lower case) of every registered provider, to mask
    wherever raw provider fields are shown or exported."""
    names: set[str] = set()
    for slug in PROVIDERS:
        names |= get_provider_class(slug).signature_fields
    return frozenset(names)
