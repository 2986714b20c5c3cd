"""Reads: what a month's statement is made of, statements as lists, rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from django.db.models import QuerySet
from django.db.models.functions import Coalesce

from franchise_platform.network.models import Partner
from franchise_platform.payments.models import Payment, Refund, RefundStatus

from .models import RoyaltyRule, RoyaltyStatement
from .periods import month_bounds


@dataclass(frozen=True)
class BaseLine:
    kind: str  # "payment" | "refund"
    payment_id: UUID
    refund_id: UUID | None
    invoice_id: int
    crm_deal_id: int | None
    deal_title: str
    happened_at: datetime
    amount: Decimal  # negative for a refund


def royalty_base_lines(*, partner_id: UUID | str, period: date) -> list[BaseLine]:
    """The partner's real (non-test) payments of the month and the refunds finished in it."""
    start, end = month_bounds(period)
    lines = [
        BaseLine(
            kind="payment",
            payment_id=p.pk,
            refund_id=None,
            invoice_id=p.invoice_id,
            crm_deal_id=p.deal.crm_deal_id,
            deal_title=p.deal.title,
            happened_at=p.paid_at,
            amount=p.amount,
        )
        for p in Payment.objects.filter(
            partner_id=partner_id, is_test=False, paid_at__gte=start, paid_at__lt=end
        ).select_related("deal")
    ]
    refunds = (
        Refund.objects.annotate(moment=Coalesce("finished_at", "created_at"))
        .filter(
            payment__partner_id=partner_id,
            payment__is_test=False,
            status=RefundStatus.FINISHED,
            moment__gte=start,
            moment__lt=end,
        )
        .select_related("payment", "deal")
    )
    lines += [
        BaseLine(
            kind="refund",
            payment_id=r.payment_id,
            refund_id=r.pk,
            invoice_id=r.payment.invoice_id,
            crm_deal_id=r.deal.crm_deal_id,
            deal_title=r.deal.title,
            happened_at=r.moment,
            amount=-r.amount,
        )
        for r in refunds
    ]
    lines.sort(key=lambda line: (line.happened_at, line.kind))
    return lines


def royalty_rule_get(*, partner_id: UUID | str) -> RoyaltyRule | None:
    return RoyaltyRule.objects.filter(partner_id=partner_id).first()


def partners_with_rules() -> QuerySet[Partner]:
    return Partner.objects.filter(royalty_rule__isnull=False).select_related("royalty_rule")


def partners_for_royalties() -> QuerySet[Partner]:
    """Every partner with its rule (or none), for the rules table."""
    return Partner.objects.select_related("royalty_rule").order_by("name")


def statement_search(
    *, period: date | None = None, partner_id: UUID | str | None = None
) -> QuerySet[RoyaltyStatement]:
    statements = RoyaltyStatement.objects.select_related("partner")
    if period is not None:
        statements = statements.filter(period=period)
    if partner_id is not None:
        statements = statements.filter(partner_id=partner_id)
    return statements.order_by("-period", "partner_name", "id")


def statement_get(*, statement_id: UUID | str) -> RoyaltyStatement:
    """Raises RoyaltyStatement.DoesNotExist (the panel answers its 404)."""
    return RoyaltyStatement.objects.select_related("partner").get(pk=statement_id)


def statement_periods(*, partner_id: UUID | str | None = None) -> list[date]:
    """The months that have statements (of one partner, when named), newest first."""
    statements = RoyaltyStatement.objects.all()
    if partner_id is not None:
        statements = statements.filter(partner_id=partner_id)
    return list(statements.order_by("-period").values_list("period", flat=True).distinct())
