"""A provider's account declaration (billing_providers.base.AccountField) read for people: labels,
help and problem texts in the active language, the providers a shop can be at, and where each
field is stored. The API schemas, the panel form, the services and the audit labels all read the
declarations through here, so none of them names a provider's fields."""

from __future__ import annotations

from django.utils.translation import get_language

from billing_providers import registry
from billing_providers.base import AccountField, BillingProvider, CabinetAddress, FieldMessage
from billing_providers.errors import ProviderConfigError


def english() -> bool:
    return (get_language() or "ru").startswith("en")


def declared_label(spec: AccountField | CabinetAddress) -> str:
    """The declared label in the current language (Russian unless English is active)."""
    return spec.label_en if english() else spec.label_ru


def declared_help(spec: AccountField | CabinetAddress) -> str:
    return spec.help_en if english() else spec.help_ru


def declared_text(message: FieldMessage) -> str:
    return message.text_en if english() else message.text_ru


def declaring_class(slug: str) -> type[BillingProvider] | None:
    """The adapter registered under ``slug`` when it declares its account fields, else None."""
    try:
        provider_class = registry.get_provider_class(slug)
    except ProviderConfigError:
        return None
    return provider_class if provider_class.account_fields else None


def declared_fields(slug: str) -> tuple[AccountField, ...]:
    provider_class = declaring_class(slug)
    return provider_class.account_fields if provider_class else ()


def field_spec(slug: str, name: str) -> AccountField | None:
    return next((spec for spec in declared_fields(slug) if spec.name == name), None)


def block_name(slug: str) -> str:
    """Where the provider's problems and audit keys live in the API: its own block's name (the
    Robokassa contract: ``robokassa.password1``) or its slug."""
    provider_class = declaring_class(slug)
    return (provider_class.account_block if provider_class else "") or slug


def login_field(fields: tuple[AccountField, ...]) -> AccountField | None:
    return next((spec for spec in fields if spec.target == "login"), None)


def block_providers() -> list[type[BillingProvider]]:
    """The declaring providers that keep an object of their own in the partners API."""
    return [cls for cls in registry.declaring_providers() if cls.account_block]
