"""Shops, accounts and requests for the YooKassa provider tests, served by the strict fake."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from billing_providers.base import InvoiceRequest, PaymentKind, ProviderAccount, ReceiptRequest
from billing_providers.yookassa.provider import YooKassaProvider
from tests.fakes.yookassa import FakeYooKassa

SHOP_ID = "100500"
SECRET_KEY = "test_Fh8hUAVVBGUGbjmlzba6TB0iyUbos_lueTHE-axOwM0"
OTHER_SHOP_ID = "100600"
OTHER_SECRET = "test_OtherShopSecretKey0123456789"
RETURN_URL = "https://platform.example/pay/return/{invoice_id}"
# The fake's notifications come from this machine: the tests allow-list it, as Appendix A.9 says.
LOCAL_NETWORKS = ("127.0.0.1/32",)
YOOKASSA_IP = "185.71.76.5"


def make_account(**overrides: Any) -> ProviderAccount:
    values: dict[str, Any] = {
        "login": SHOP_ID,
        "secrets": {"secret_key": SECRET_KEY},
        "test_mode": True,
        "fiscalization": True,
    }
    values.update(overrides)
    return ProviderAccount(**values)


def make_receipt(**overrides: Any) -> ReceiptRequest:
    values: dict[str, Any] = {
        "tax_system": "usn_income",
        "vat": "none",
        "item_name": "Консультация",
        "amount": Decimal("1500.00"),
        "payment_kind": PaymentKind.FULL,
    }
    values.update(overrides)
    return ReceiptRequest(**values)


def make_request(**overrides: Any) -> InvoiceRequest:
    amount = overrides.pop("amount", Decimal("1500.00"))
    values: dict[str, Any] = {
        "invoice_id": 1042,
        "amount": amount,
        "description": "Предоплата по счёту 1042: консультация",
        "expires_at": datetime.now(UTC) + timedelta(hours=24),
        "receipt": make_receipt(amount=amount),
        "extra": {"mark": "a1b2c3d4"},
        "email": "client@example.com",
    }
    values.update(overrides)
    return InvoiceRequest(**values)


@dataclass
class Stored:
    """The core's memory of YooKassa ids, as ``ReferenceLookup`` wants it."""

    payments: dict[int, str] = field(default_factory=dict)
    receipts: dict[int, str] = field(default_factory=dict)

    def payment_id(self, invoice_id: int) -> str | None:
        return self.payments.get(invoice_id)

    def receipt_id(self, receipt_number: int) -> str | None:
        return self.receipts.get(receipt_number)


@dataclass
class Rig:
    fake: FakeYooKassa
    provider: YooKassaProvider
    stored: Stored
    slept: list[float]


def make_fake(**shop: Any) -> FakeYooKassa:
    fake = FakeYooKassa()
    fake.register_shop(SHOP_ID, SECRET_KEY, fiscalization=shop.pop("fiscalization", True), **shop)
    fake.register_shop(OTHER_SHOP_ID, OTHER_SECRET, fiscalization=False)
    return fake


def make_rig(fake: FakeYooKassa | None = None, **options: Any) -> Rig:
    fake = fake or make_fake()
    stored = Stored()
    slept: list[float] = []
    values: dict[str, Any] = {
        "api_base_url": fake.api_base_url,
        "oauth_base_url": fake.oauth_base_url,
        "return_url": RETURN_URL,
        "http_client": httpx.Client(transport=fake.transport()),
        "notification_networks": (*LOCAL_NETWORKS, "185.71.76.0/27"),
        "references": stored,
        "sleep": slept.append,
    }
    values.update(options)
    return Rig(fake, YooKassaProvider(**values), stored, slept)
