"""Small shared steps for the observability and deployment tests."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from franchise_platform.payments.models import Invoice, LinkKind
from tests.payments.helpers import active_link


def issued_invoice(deal, account) -> Invoice:
    """The invoice a visit to the deal's prepayment link issues, written directly (/pay/ is not
    what these tests are about)."""
    link = active_link(deal, LinkKind.PREPAYMENT)
    return Invoice.objects.create(
        link=link,
        deal=deal,
        provider_account=account,
        provider="robokassa",
        amount=link.amount,
        payment_kind="prepayment",
        payment_url="https://auth.robokassa.invalid/Merchant/Index.aspx",
        expires_at=timezone.now() + timedelta(hours=24),
    )
