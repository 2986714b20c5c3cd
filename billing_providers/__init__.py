"""Payment provider adapters. Pure Python: no Django, nothing from the core.

The core imports the interface from here and gets adapters from ``registry.get_provider``.
"""

from billing_providers.base import (
    BillingProvider,
    CallbackVerdict,
    InvoiceRequest,
    InvoiceState,
    InvoiceStatus,
    IssuedInvoice,
    PaymentKind,
    ProviderAccount,
    ReceiptRequest,
)
from billing_providers.errors import (
    ProviderConfigError,
    ProviderError,
    ProviderResponseError,
    ProviderUnavailable,
)
from billing_providers.registry import PROVIDERS, get_provider, provider_choices

__all__ = [
    "PROVIDERS",
    "BillingProvider",
    "CallbackVerdict",
    "InvoiceRequest",
    "InvoiceState",
    "InvoiceStatus",
    "IssuedInvoice",
    "PaymentKind",
    "ProviderAccount",
    "ProviderConfigError",
    "ProviderError",
    "ProviderResponseError",
    "ProviderUnavailable",
    "ReceiptRequest",
    "get_provider",
    "provider_choices",
]
