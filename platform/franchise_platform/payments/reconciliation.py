"""Asking the provider about invoices we heard nothing about (flow 5): a lost callback still ends
as one payment, exactly as if the callback had come (the payment is recorded by the flow
franchise_platform.flows.payment.invoice_reconcile)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing_providers.base import InvoiceState
from billing_providers.base import InvoiceStatus as ProviderStatus
from billing_providers.errors import ProviderError
from franchise_platform.network.models import ProviderAccount

from .callbacks import _shop_checked
from .invoicing import MARKER_FIELD
from .models import (
    CallbackEvent,
    CallbackStatus,
    Invoice,
    InvoicePurpose,
    InvoiceStatus,
)
from .providers import account_data, provider_get

logger = logging.getLogger(__name__)
# Unpaid invoices the provider may still hold a payment for (a conflict is settled).
RECONCILED = [InvoiceStatus.ISSUED, InvoiceStatus.EXPIRED, InvoiceStatus.RETIRED]


def invoices_to_reconcile(*, now: object = None, limit: int = 200) -> list[Invoice]:
    now = now or timezone.now()
    quiet = now - timedelta(minutes=settings.RECONCILE_AFTER_MINUTES)  # type: ignore[operator]
    oldest = now - timedelta(days=settings.RECONCILE_MAX_AGE_DAYS)  # type: ignore[operator]
    recheck = now - timedelta(minutes=settings.RECONCILE_AFTER_MINUTES)  # type: ignore[operator]
    return list(
        Invoice.objects.filter(
            status__in=RECONCILED,
            created_at__lt=quiet,
            created_at__gt=oldest,
        )
        .exclude(last_checked_at__gt=recheck)
        .select_related("provider_account")
        .order_by("last_checked_at", "id")[:limit]
    )


def _echoed_marker(extra: Mapping[str, str]) -> str:
    # OpStateExt lists user fields by name; the case of the Shp_ prefix is not documented.
    for name, value in extra.items():
        if name.lower() in (f"shp_{MARKER_FIELD}", MARKER_FIELD):
            return value
    return ""


def _foreign_reason(invoice: Invoice, state: InvoiceState) -> tuple[str, str] | None:
    """Why the provider's operation under this InvId is not our invoice's payment, or None."""
    if invoice.marker and not hmac.compare_digest(
        _echoed_marker(state.extra).encode(), invoice.marker.encode()
    ):
        return "foreign_operation", "The operation does not carry this invoice's marker"
    if state.status == ProviderStatus.PAID and state.amount != invoice.amount:
        return "amount_mismatch", f"The operation's amount {state.amount} differs"
    return None


def _conflict_record(invoice: Invoice, state: InvoiceState, code: str, reason: str) -> None:
    """Keep what the provider said, never as a payment: the invoice's number is withdrawn (a buyer
    would meet error 40 on it), the deal's timeline explains it, the owner sees it on the shop."""
    account = invoice.provider_account
    with transaction.atomic():
        updated = Invoice.objects.filter(pk=invoice.pk, status__in=RECONCILED).update(
            status=InvoiceStatus.CONFLICT
        )
        if not updated:
            return  # paid or withdrawn meanwhile
        CallbackEvent.objects.create(
            provider=invoice.provider,
            partner_id=account.partner_id,
            provider_account=account,
            invoice_number=invoice.pk,
            params={
                "source": "OpStateExt",
                "State": state.raw_code or "",
                "OutSum": "" if state.amount is None else str(state.amount),
                **{f"UserField {k}": v for k, v in state.extra.items()},
            },
            amount=state.amount,
            is_test=invoice.is_test,
            accepted=False,
            reason_code=code,
            reason=reason[:500],
            status=CallbackStatus.REFUSED,
        )
        # The shop's own numbering reached ours: the next invoice checks its numbers again.
        ProviderAccount.objects.filter(pk=account.pk).update(
            invoice_numbers_checked_at=None,
            invoice_numbers_problem=_(
                "В магазине есть операция с номером %(id)s, которую выставила не платформа: "
                "она не засчитана как оплата, номер больше не используется."
            )
            % {"id": invoice.pk},
        )
    logger.warning("reconciliation: invoice %s is not ours at the provider (%s)", invoice.pk, code)


@dataclass(frozen=True)
class ProviderCheck:
    """What the provider said about one invoice."""

    # A link invoice the provider holds as paid: the flow records the payment with this moment.
    paid_at: datetime | None = None
    # A shop-check invoice found paid (recorded here: the partner's shop is proven wired).
    shop_checked: bool = False


def invoice_provider_check(*, invoice: Invoice) -> ProviderCheck:
    """Ask the provider about one invoice (outside any transaction: a network call).

    Only our own operation counts: it must echo the invoice's marker and, when paid, carry its
    amount. Anything else under the same InvId is kept as a refused event, never a payment."""
    account = invoice.provider_account
    provider = provider_get(invoice.provider)
    try:
        state = provider.fetch_invoice_state(
            account_data(account, test_mode=invoice.is_test), invoice.pk
        )
    except ProviderError as exc:
        logger.warning("reconciliation of invoice %s failed: %s", invoice.pk, exc.code)
        return ProviderCheck()
    finally:
        Invoice.objects.filter(pk=invoice.pk).update(last_checked_at=timezone.now())
    if state.status == ProviderStatus.NOT_FOUND:
        return ProviderCheck()
    foreign = _foreign_reason(invoice, state)
    if foreign is not None:
        _conflict_record(invoice, state, *foreign)
        return ProviderCheck()
    if state.status != ProviderStatus.PAID:
        return ProviderCheck()
    if invoice.purpose == InvoicePurpose.SHOP_CHECK:
        _shop_checked(invoice)
        return ProviderCheck(shop_checked=True)
    return ProviderCheck(paid_at=state.paid_at or timezone.now())
