"""Payments and refunds written straight into the current network's schema, at chosen times."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from franchise_platform.network.models import Partner, ProviderAccount
from franchise_platform.payments.models import (
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentKind,
    Refund,
    RefundReceipt,
    RefundStatus,
)
from franchise_platform.royalties.rules import RuleSpec, Tier
from franchise_platform.royalties.services import royalty_rule_save
from tests.factories import DealFactory, shop

MSK = ZoneInfo("Europe/Moscow")
_invoice_numbers = itertools.count(1_500_000_000)


def msk(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MSK)


def partner_with_shop(name: str = "ИП Роялти") -> ProviderAccount:
    account = shop()
    account.partner.name = name
    account.partner.save(update_fields=["name"])
    return account


def pay(
    account: ProviderAccount,
    amount: str,
    at: datetime,
    *,
    is_test: bool = False,
    title: str = "Квест",
) -> Payment:
    partner: Partner = account.partner
    deal = DealFactory(partner=partner, location=partner.locations.first(), title=title)
    invoice = Invoice.objects.create(
        id=next(_invoice_numbers),
        deal=deal,
        provider_account=account,
        provider="robokassa",
        amount=Decimal(amount),
        payment_kind=PaymentKind.FULL,
        status=InvoiceStatus.PAID,
        is_test=is_test,
        payment_url="https://auth.robokassa.ru/Merchant/Index.aspx",
        expires_at=at + timedelta(days=1),
        paid_at=at,
    )
    return Payment.objects.create(
        invoice=invoice,
        deal=deal,
        partner=partner,
        amount=Decimal(amount),
        kind=PaymentKind.FULL,
        is_test=is_test,
        paid_at=at,
    )


def refund(
    payment: Payment, amount: str, at: datetime, *, status: str = RefundStatus.FINISHED
) -> Refund:
    return Refund.objects.create(
        payment=payment,
        deal=payment.deal,
        amount=Decimal(amount),
        status=status,
        receipt=RefundReceipt.NOT_REQUIRED,
        finished_at=at if status == RefundStatus.FINISHED else None,
    )


def set_rule(partner: Partner, *, email: str = "partner@example.com", **spec: object) -> None:
    tiers = tuple(Tier(Decimal(a), Decimal(b)) for a, b in spec.pop("tiers", ()))  # type: ignore[attr-defined]
    royalty_rule_save(
        partner_id=partner.pk,
        spec=RuleSpec(tiers=tiers, **spec),  # type: ignore[arg-type]
        email=email,
        actor="owner@test",
    )
