"""Network API: royalty statements for integrators (Bearer token, read-only)."""

import uuid
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja.pagination import PageNumberPagination, paginate

from franchise_platform.accounts.api_auth import NetworkTokenAuth
from franchise_platform.api_errors import ERROR_RESPONSES, ApiError
from franchise_platform.scoping import scope_partner_id

from .models import RoyaltyStatement
from .periods import next_month, period_parse
from .selectors import statement_search

router = Router(auth=NetworkTokenAuth(), tags=["royalties"])


class RuleOut(Schema):
    kind: str
    percent: str | None
    fixed_amount: str | None
    minimum: str | None
    tiers: list[dict[str, str]]


class StatementOut(Schema):
    id: str
    partner_id: str
    partner_name: str
    period: str
    period_start: str
    period_end: str
    status: str
    currency: str
    turnover: str
    refunds: str
    base: str
    amount: str
    rule: RuleOut
    payments_count: int
    refunds_count: int
    drafted_at: datetime
    approved_at: datetime | None
    sent_at: datetime | None


class StatementLineOut(Schema):
    kind: str
    invoice_id: int
    crm_deal_id: int | None
    happened_at: datetime
    amount: str


class StatementDetailOut(StatementOut):
    lines: list[StatementLineOut]


class StatementFilter(Schema):
    period: str | None = None
    partner_id: str | None = None


def _scope_partner(request: HttpRequest) -> str | None:
    """A person attached to one partner (a franchisee's own account) sees only its statements
    (franchise_platform/scoping.py; a partner user without a partner sees none)."""
    partner_id = scope_partner_id(request.auth)  # type: ignore[attr-defined]
    return str(partner_id) if partner_id is not None else None


def _statement_view(statement: RoyaltyStatement, *, counts: dict[str, int]) -> dict[str, Any]:
    end = next_month(statement.period)
    return {
        "id": str(statement.pk),
        "partner_id": str(statement.partner_id),
        "partner_name": statement.partner_name,
        "period": f"{statement.period:%Y-%m}",
        "period_start": statement.period.isoformat(),
        "period_end": end.isoformat(),
        "status": statement.status,
        "currency": "RUB",
        "turnover": f"{statement.turnover:.2f}",
        "refunds": f"{statement.refunds:.2f}",
        "base": f"{statement.base:.2f}",
        "amount": f"{statement.amount:.2f}",
        "rule": statement.rule_snapshot,
        "payments_count": counts.get("payment", 0),
        "refunds_count": counts.get("refund", 0),
        "drafted_at": statement.drafted_at,
        "approved_at": statement.approved_at,
        "sent_at": statement.sent_at,
    }


def _counts(statement: RoyaltyStatement) -> dict[str, int]:
    counts = {"payment": 0, "refund": 0}
    for line in statement.lines.all():
        counts[line.kind] = counts.get(line.kind, 0) + 1
    return counts


def _uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


@router.get(
    "/royalties/statements",
    response={200: list[StatementOut], **ERROR_RESPONSES},
    summary="Royalty statements, newest month first",
)
@paginate(PageNumberPagination, page_size=50)
def statements(request: HttpRequest, filters: Query[StatementFilter]) -> list[dict[str, Any]]:
    """`period` is a month as `YYYY-MM`; `partner_id` a partner's id (an unknown one: no items).
    `base` = turnover − refunds of the month; `amount` is rounded half up to kopecks."""
    period = None
    if filters.period:
        period = period_parse(filters.period)
        if period is None:
            raise ApiError(
                422,
                _("period: ожидается месяц в формате ГГГГ-ММ, например 2026-11."),
                "invalid_period",
            )
    partner_id = None
    if filters.partner_id:
        partner_id = _uuid(filters.partner_id)
        if partner_id is None:
            return []
    scope = _scope_partner(request)
    if scope is not None:
        if partner_id is not None and partner_id != scope:
            return []
        partner_id = scope
    found = statement_search(period=period, partner_id=partner_id).prefetch_related("lines")
    return [_statement_view(s, counts=_counts(s)) for s in found]


@router.get(
    "/royalties/statements/{statement_id}",
    response={200: StatementDetailOut, **ERROR_RESPONSES},
    summary="One royalty statement with the payments and refunds behind it",
)
def statement_show(request: HttpRequest, statement_id: str) -> dict[str, Any]:
    found = statement_search(partner_id=_scope_partner(request)).filter(
        pk=_uuid(statement_id) or "00000000-0000-0000-0000-000000000000"
    )
    statement = found.prefetch_related("lines").first()
    if statement is None:
        raise ApiError(404, _("Не найдено."), "not_found")
    body = _statement_view(statement, counts=_counts(statement))
    body["lines"] = [
        {
            "kind": line.kind,
            "invoice_id": line.invoice_id,
            "crm_deal_id": line.crm_deal_id,
            "happened_at": line.happened_at,
            "amount": f"{line.amount:.2f}",
        }
        for line in statement.lines.all()
    ]
    return body
