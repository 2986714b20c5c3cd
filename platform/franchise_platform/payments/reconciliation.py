"""Asking the provider about invoices we heard nothing about (flow 5): a lost callback still ends
as one payment, exactly as if the callback had come."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from billing_providers.base import InvoiceStatus as ProviderStatus
from billing_providers.errors import ProviderError

from .callbacks import _shop_checked, payment_record
from .models import Invoice, InvoicePurpose, InvoiceStatus, PaymentSource
from .providers import account_data, provider_get

logger = logging.getLogger(__name__)


def invoices_to_reconcile(*, now: object = None, limit: int = 200) -> list[Invoice]:
    now = now or timezone.now()
    quiet = now - timedelta(minutes=settings.RECONCILE_AFTER_MINUTES)  # type: ignore[operator]
    oldest = now - timedelta(days=settings.RECONCILE_MAX_AGE_DAYS)  # type: ignore[operator]
    recheck = now - timedelta(minutes=settings.RECONCILE_AFTER_MINUTES)  # type: ignore[operator]
    return list(
        Invoice.objects.filter(
            status__in=[InvoiceStatus.ISSUED, InvoiceStatus.EXPIRED, InvoiceStatus.RETIRED],
            created_at__lt=quiet,
            created_at__gt=oldest,
        )
        .exclude(last_checked_at__gt=recheck)
        .select_related("provider_account")
        .order_by("last_checked_at", "id")[:limit]
    )


def invoice_reconcile(*, invoice: Invoice) -> bool:
    """Ask the provider about one invoice; record the payment if it was paid. True if recorded."""
    account = invoice.provider_account
    provider = provider_get(invoice.provider)
    try:
        state = provider.fetch_invoice_state(
            account_data(account, test_mode=invoice.is_test), invoice.pk
        )
    except ProviderError as exc:
        logger.warning("reconciliation of invoice %s failed: %s", invoice.pk, exc.code)
        return False
    finally:
        Invoice.objects.filter(pk=invoice.pk).update(last_checked_at=timezone.now())
    if state.status != ProviderStatus.PAID:
        return False
    if invoice.purpose == InvoicePurpose.SHOP_CHECK:
        _shop_checked(invoice)
        return True
    return (
        payment_record(
            invoice=invoice,
            source=PaymentSource.RECONCILIATION,
            paid_at=state.paid_at or timezone.now(),
        )
        is not None
    )


def network_invoices_reconcile() -> int:
    recorded = 0
    for invoice in invoices_to_reconcile():
        recorded += invoice_reconcile(invoice=invoice)
    return recorded
