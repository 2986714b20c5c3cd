"""Accounts and requests for provider tests; the demo shop of the spec's worked example."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from billing_providers.base import InvoiceRequest, PaymentKind, ProviderAccount, ReceiptRequest

LOGIN = "demo-shop"
PASSWORD1 = "Pa55word1"
PASSWORD2 = "Pa55word2"
TEST_PASSWORD1 = "TestPa55word1"
TEST_PASSWORD2 = "TestPa55word2"
ALL_PASSWORDS = (PASSWORD1, PASSWORD2, TEST_PASSWORD1, TEST_PASSWORD2)

ALGORITHMS = ("md5", "ripemd160", "sha1", "sha256", "sha384", "sha512")


def make_account(**overrides: Any) -> ProviderAccount:
    values: dict[str, Any] = {
        "login": LOGIN,
        "secrets": {
            "password1": PASSWORD1,
            "password2": PASSWORD2,
            "test_password1": TEST_PASSWORD1,
            "test_password2": TEST_PASSWORD2,
        },
    }
    values.update(overrides)
    return ProviderAccount(**values)


def vector_account(**overrides: Any) -> ProviderAccount:
    """The spec's section 12 shop: its passwords are the *test* pair (IsTest=1)."""
    values: dict[str, Any] = {
        "secrets": {"test_password1": PASSWORD1, "test_password2": PASSWORD2},
        "test_mode": True,
    }
    values.update(overrides)
    return make_account(**values)


def future(hours: int = 24) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours)


def make_receipt(**overrides: Any) -> ReceiptRequest:
    values: dict[str, Any] = {
        "tax_system": "usn_income",
        "vat": "none",
        "item_name": "Подписка PRO",
        "amount": Decimal("1500.00"),
        "payment_kind": PaymentKind.FULL,
    }
    values.update(overrides)
    return ReceiptRequest(**values)


def make_request(**overrides: Any) -> InvoiceRequest:
    values: dict[str, Any] = {
        "invoice_id": 100245,
        "amount": Decimal("1500.00"),
        "description": "Order 100245",
        "expires_at": future(),
        "extra": {"user": "42", "plan": "pro"},
    }
    values.update(overrides)
    return InvoiceRequest(**values)
