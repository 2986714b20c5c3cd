"""Reads about deals, links and payments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from franchise_platform.network.models import Partner
from franchise_platform.security import redaction
from tenants.models import Network
from tenants.services import network_base_url

from .models import (
    CallbackEvent,
    Deal,
    Invoice,
    InvoicePurpose,
    InvoiceStatus,
    LinkKind,
    LinkStatus,
    Payment,
    PaymentLink,
    Refund,
    RefundReceipt,
    RefundStatus,
    SettlementReceipt,
    SettlementReceiptStatus,
)
from .settlement import STUCK_AFTER


def partner_has_unpaid_links(*, partner: Partner) -> bool:
    """True while any active link of a deal drawn on this partner can still be paid."""
    return PaymentLink.objects.filter(deal__partner=partner, status=LinkStatus.ACTIVE).exists()


def deal_by_crm_id(*, crm_deal_id: int, crm: str = "amocrm") -> Deal | None:
    return (
        Deal.objects.select_related("location", "partner")
        .filter(crm=crm, crm_deal_id=crm_deal_id)
        .first()
    )


def _money(value: Any) -> str:
    return f"{value:.2f}"


def deal_links_view(*, deal: Deal, network: Network) -> dict[str, Any]:
    """The widget's answer for a deal (CONTRACT.md "Widget API"): the active link of each kind,
    or its newest paid or closed one, with the amount it asks now."""
    base = network_base_url(network)
    links = []
    by_kind: dict[str, PaymentLink] = {}
    for link in deal.links.order_by("created_at"):
        current = by_kind.get(link.kind)
        if current is None or current.status != LinkStatus.ACTIVE:
            by_kind[link.kind] = link
    for kind in (LinkKind.PREPAYMENT, LinkKind.FULL):
        shown = by_kind.get(kind)
        if shown is None:
            continue
        link = shown
        links.append(
            {
                "kind": kind,
                "url": f"{base}/pay/{link.token}",
                "amount": _money(link.amount),
                "status": link.status,
            }
        )
    return {
        "lead_id": deal.crm_deal_id,
        "deal": {
            "total": _money(deal.total),
            "paid": _money(deal.paid),
            "remaining": _money(deal.remaining),
            "currency": "RUB",
            "status": deal.status,
            "overpaid": _money(deal.overpaid_amount),
            # Test-mode payments: shown as «ТЕСТ», never part of "paid".
            "test_paid": _money(deal.test_paid),
            "refunded": _money(deal.refunded),
            "service_date": deal.service_date.isoformat() if deal.service_date else None,
            "delivered_at": deal.delivered_at.isoformat() if deal.delivered_at else None,
            "receipts": deal_receipts_view(deal=deal),
        },
        "location": {"id": str(deal.location_id), "name": deal.location.name}
        if deal.location
        else None,
        "partner": {"id": str(deal.partner_id), "name": deal.partner.name}
        if deal.partner
        else None,
        "links": links,
    }


def deal_receipts_view(*, deal: Deal) -> list[dict[str, Any]]:
    """The deal's fiscal receipts (CONTRACT "receipts"), in one query: each live, fiscalized
    payment's own receipt (formed by the provider with the payment: "sent") and its settlement
    receipt once there is one."""
    payments = (
        Payment.objects.filter(deal=deal, is_test=False)
        .exclude(invoice__receipt_json="")
        .select_related("settlement_receipt")
        .order_by("paid_at")
    )
    receipts: list[dict[str, Any]] = []
    for payment in payments:
        receipts.append(
            {
                "kind": "payment",
                "amount": _money(payment.amount),
                "status": "sent",
                "payment_invoice_id": payment.invoice_id,
            }
        )
        settlement = getattr(payment, "settlement_receipt", None)
        if settlement is not None:
            receipts.append(
                {
                    "kind": "settlement",
                    "amount": _money(settlement.amount),
                    "status": settlement.status,
                    "payment_invoice_id": payment.invoice_id,
                }
            )
    # Refund receipts («возврат прихода») Robokassa forms from a refund's items: "queued" while
    # the refund runs, "sent" once it finished. A refund made elsewhere has none of ours.
    for refund in (
        Refund.objects.filter(deal=deal, receipt__in=(RefundReceipt.PROVIDER, RefundReceipt.ISSUED))
        .exclude(status__in=(RefundStatus.FAILED, RefundStatus.CANCELED))
        .select_related("payment")
        .order_by("created_at")
    ):
        receipts.append(
            {
                "kind": "refund",
                "amount": _money(refund.amount),
                "status": "sent" if refund.receipt == RefundReceipt.ISSUED else "queued",
                "payment_invoice_id": refund.payment.invoice_id,
            }
        )
    return receipts


def settlement_receipts_attention(*, now: datetime | None = None) -> QuerySet[SettlementReceipt]:
    """Receipts a person should look at: failed, waiting for the buyer's contact, or
    queued/sent and still not registered after `STUCK_AFTER`. Newest first."""

    moment = (now or timezone.now()) - STUCK_AFTER
    return (
        SettlementReceipt.objects.filter(
            Q(status=SettlementReceiptStatus.FAILED)
            | Q(status=SettlementReceiptStatus.QUEUED, waiting_for_contact=True)
            | Q(
                status__in=(SettlementReceiptStatus.QUEUED, SettlementReceiptStatus.SENT),
                created_at__lt=moment,
            )
        )
        .select_related("deal", "payment__partner")
        .order_by("-created_at")
    )


def deal_payments_view(*, deal: Deal) -> list[dict[str, Any]]:
    return [
        {
            "amount": _money(p.amount),
            "paid_at": p.paid_at.isoformat(),
            "invoice_id": p.invoice_id,
            "partner_id": str(p.partner_id),
            "kind": p.kind,
            # A test payment is listed but never counts in the deal's paid sum.
            "is_test": p.is_test,
            # Returned to the buyer (finished refunds) and still due back (an overpayment).
            "refunded": _money(p.refunded_sum or 0),
            "refund_due": _money(p.refund_due),
        }
        for p in deal.payments.annotate(
            refunded_sum=Sum("refunds__amount", filter=Q(refunds__status="finished"))
        ).order_by("paid_at")
    ]


def payment_list(
    *, partner_id: str | None = None, since: datetime | None = None, until: datetime | None = None
) -> QuerySet[Payment]:
    payments = Payment.objects.select_related("deal", "partner").order_by("-paid_at", "-invoice_id")
    if partner_id:
        payments = payments.filter(partner_id=partner_id)
    if since:
        payments = payments.filter(paid_at__gte=since)
    if until:
        payments = payments.filter(paid_at__lt=until)
    return payments


# --- The owner's panel: deals, their history, payments ----------------------------------------

MASK = redaction.MASK
# A well-formed id no row has: a malformed filter value matches nothing rather than everything.
NOTHING = "00000000-0000-0000-0000-000000000000"


def _uuid_or_none(value: str | None) -> str | None:
    """An id from a query string: a malformed one matches nothing instead of raising."""
    if not value:
        return None
    try:
        return str(UUID(str(value)))
    except ValueError:
        return None


def deal_search(
    *,
    partner_id: str | None = None,
    location_id: str | None = None,
    status: str | None = None,
    created_since: datetime | None = None,
    created_until: datetime | None = None,
    paid_since: datetime | None = None,
    paid_until: datetime | None = None,
) -> QuerySet[Deal]:
    """Deals newest first with their partner and location, for lists. `*_until` is exclusive; the
    paid range keeps deals with at least one payment inside it (each deal once)."""
    deals = Deal.objects.select_related("partner", "location").order_by("-created_at", "-id")
    if partner_id:
        deals = deals.filter(partner_id=_uuid_or_none(partner_id) or NOTHING)
    if location_id:
        deals = deals.filter(location_id=_uuid_or_none(location_id) or NOTHING)
    if status:
        deals = deals.filter(status=status)
    if created_since:
        deals = deals.filter(created_at__gte=created_since)
    if created_until:
        deals = deals.filter(created_at__lt=created_until)
    if paid_since or paid_until:
        paid = Payment.objects.filter(deal=OuterRef("pk"))
        if paid_since:
            paid = paid.filter(paid_at__gte=paid_since)
        if paid_until:
            paid = paid.filter(paid_at__lt=paid_until)
        deals = deals.filter(Exists(paid))
    return deals


def deal_get(*, deal_id: str) -> Deal:
    """One deal with its partner and location. Raises Deal.DoesNotExist (also for a malformed id)."""
    pk = _uuid_or_none(deal_id)
    if pk is None:
        raise Deal.DoesNotExist
    return Deal.objects.select_related("partner", "location").get(pk=pk)


@dataclass(frozen=True)
class CallbackRow:
    """A provider notification as the owner may see it: the signature is never shown."""

    event: CallbackEvent
    params: list[tuple[str, str]]


@dataclass(frozen=True)
class DealHistory:
    """Everything that happened to a deal, each kind oldest first."""

    links: list[PaymentLink]
    invoices: list[Invoice]
    callbacks: list[CallbackRow]
    payments: list[Payment]
    # The deal's CRM messages (crm_sync's OutboxMessage rows), filled in by the panel:
    # payments knows nothing of the CRM.
    outbox: list[Any] = field(default_factory=list)
    settlement_receipts: list[SettlementReceipt] = field(default_factory=list)
    delivered_at: datetime | None = None
    delivered_source: str = ""


def callback_params_masked(params: dict[str, Any]) -> list[tuple[str, str]]:
    """The raw notification fields in their order, with every provider's signature field
    (`SignatureValue`, any case) masked."""
    return [
        (str(key), MASK if redaction.is_signature_field(key) else str(value))
        for key, value in params.items()
    ]


def deal_history(*, deal: Deal) -> DealHistory:
    """Links, invoices, provider notifications (accepted and refused), payments and settlement
    receipts of one deal, in five queries whatever their number (its CRM messages come from
    crm_sync.outbox.deal_outbox_messages).

    A notification belongs to the deal only when it came to the address of the shop that issued
    the invoice and names that invoice: InvIds are sequential and public, so anyone can send one
    naming this deal's invoice to another partner's address (or to no shop at all), and such a
    forgery must not be written into this deal's story. It stays in the callback inbox."""
    invoices = list(deal.invoices.order_by("id"))
    own_notifications = Q()
    for invoice in invoices:
        own_notifications |= Q(
            provider_account_id=invoice.provider_account_id, invoice_number=invoice.pk
        )
    callbacks = (
        CallbackEvent.objects.filter(own_notifications).order_by("received_at")
        if invoices
        else CallbackEvent.objects.none()
    )
    return DealHistory(
        links=list(deal.links.order_by("created_at")),
        invoices=invoices,
        callbacks=[CallbackRow(e, callback_params_masked(e.params)) for e in callbacks],
        payments=list(deal.payments.select_related("partner").order_by("paid_at")),
        settlement_receipts=list(
            SettlementReceipt.objects.filter(deal=deal).select_related("payment")
        ),
        delivered_at=deal.delivered_at,
        delivered_source=deal.delivered_source,
    )


def payment_search(
    *,
    partner_id: str | None = None,
    location_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Payment]:
    """Payments newest first with their deal, location and partner (`until` exclusive)."""
    payments = Payment.objects.select_related("deal__location", "partner").order_by(
        "-paid_at", "-invoice_id"
    )
    if partner_id:
        payments = payments.filter(partner_id=_uuid_or_none(partner_id) or NOTHING)
    if location_id:
        payments = payments.filter(deal__location_id=_uuid_or_none(location_id) or NOTHING)
    if since:
        payments = payments.filter(paid_at__gte=since)
    if until:
        payments = payments.filter(paid_at__lt=until)
    return payments


@dataclass(frozen=True)
class PaymentTotals:
    count: int
    amount: Decimal


def payment_totals(*, payments: QuerySet[Payment]) -> PaymentTotals:
    """Count and sum of a (filtered) set of payments, in one query. Test payments are not money:
    they are left out of both."""
    figures = (
        payments.filter(is_test=False).order_by().aggregate(count=Count("pk"), amount=Sum("amount"))
    )
    return PaymentTotals(count=figures["count"], amount=figures["amount"] or Decimal("0.00"))


def shop_check_invoice_open(*, partner: Partner) -> Invoice | None:
    """The newest shop-check invoice of the partner's shop that can still be paid, if any."""
    return (
        Invoice.objects.filter(
            provider_account__partner=partner,
            purpose=InvoicePurpose.SHOP_CHECK,
            status=InvoiceStatus.ISSUED,
            expires_at__gt=timezone.now(),
        )
        .exclude(payment_url="")
        .order_by("-id")
        .first()
    )
