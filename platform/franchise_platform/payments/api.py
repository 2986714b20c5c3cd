"""Network API: deals, payments and the shop check (Bearer token)."""

import uuid
from datetime import datetime
from typing import Any

from django.db import connection
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from ninja.pagination import PageNumberPagination, paginate

from billing_providers.errors import ProviderError
from franchise_platform.accounts.api_auth import NetworkTokenAuth, require_editor
from franchise_platform.api_errors import ERROR_RESPONSES, ApiError
from franchise_platform.inputs import ApiDateTime
from franchise_platform.network.models import Partner
from franchise_platform.scoping import confine

from .delivery import DeliverySource, deal_deliver
from .invoicing import shop_check_invoice_issue
from .models import Deal
from .selectors import deal_by_crm_id, deal_links_view, deal_payments_view, payment_list

router = Router(auth=NetworkTokenAuth(), tags=["deals and payments"])


class PaymentOut(Schema):
    amount: str
    paid_at: datetime
    invoice_id: int
    partner_id: str
    kind: str
    deal_crm_id: int


class PaymentFilter(Schema):
    partner_id: str | None = None
    since: ApiDateTime | None = None
    until: ApiDateTime | None = None


class TestInvoiceOut(Schema):
    invoice_id: int
    amount: str
    payment_url: str
    is_test: bool


@router.get("/deals/{crm_deal_id}")
def deal_show(request: HttpRequest, crm_deal_id: int) -> dict[str, Any]:
    deal = deal_by_crm_id(crm_deal_id=crm_deal_id)
    # For a partner user another partner's deal is a deal that does not exist.
    if deal is None or not confine(Deal.objects.filter(pk=deal.pk), user=request.auth).exists():  # type: ignore[attr-defined]
        raise ApiError(404, _("Сделки с таким номером в CRM нет."), "not_found")
    body = deal_links_view(deal=deal, network=connection.tenant)  # type: ignore[attr-defined]
    body["payments"] = deal_payments_view(deal=deal)
    return body


class DeliveredIn(Schema):
    delivered_at: ApiDateTime | None = None


@router.post("/deals/{crm_deal_id}/delivered", response={200: dict[str, Any], **ERROR_RESPONSES})
def deal_delivered(
    request: HttpRequest, crm_deal_id: int, payload: DeliveredIn | None = None
) -> dict[str, Any]:
    """The service was delivered; settlement receipts follow. Idempotent (CONTRACT)."""
    require_editor(request)
    deal = deal_by_crm_id(crm_deal_id=crm_deal_id)
    if deal is None:
        raise ApiError(404, _("Сделки с таким номером в CRM нет."), "not_found")
    try:
        deal_deliver(
            deal_id=deal.pk,
            source=DeliverySource.API,
            delivered_at=payload.delivered_at if payload else None,
            actor=f"{getattr(request.auth, 'email', '')} (API)",  # type: ignore[attr-defined]
        )
    except ValueError:
        raise ApiError(
            422, _("Время оказания услуги не может быть в будущем."), "invalid_delivered_at"
        ) from None
    return deal_show(request, crm_deal_id)


@router.get("/payments", response=list[PaymentOut])
@paginate(PageNumberPagination, page_size=50)
def payments(request: HttpRequest, filters: Query[PaymentFilter]) -> list[dict[str, Any]]:
    if (
        filters.partner_id
        and not Partner.objects.filter(
            pk=_uuid_or_none(filters.partner_id) or "00000000-0000-0000-0000-000000000000"
        ).exists()
    ):
        return []
    return [
        {
            "amount": f"{p.amount:.2f}",
            "paid_at": p.paid_at,
            "invoice_id": p.invoice_id,
            "partner_id": str(p.partner_id),
            "kind": p.kind,
            "deal_crm_id": p.deal.crm_deal_id,
        }
        for p in confine(
            payment_list(partner_id=filters.partner_id, since=filters.since, until=filters.until),
            user=request.auth,  # type: ignore[attr-defined]
        )
    ]


def _uuid_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


@router.post(
    "/partners/{partner_id}/test-invoice", response={201: TestInvoiceOut, **ERROR_RESPONSES}
)
def partner_test_invoice(request: HttpRequest, partner_id: str) -> Status[dict[str, Any]]:
    require_editor(request)
    tenant = getattr(request, "tenant", None)
    if tenant is not None and tenant.is_suspended:
        # A suspended network issues nothing, not even a test-mode invoice (as in the panel).
        raise ApiError(
            403,
            _("Сеть приостановлена: тестовый счёт выставить нельзя."),
            "network_suspended",
        )
    partner = (
        Partner.objects.select_related("provider_account")
        .filter(pk=_uuid_or_none(partner_id) or "00000000-0000-0000-0000-000000000000")
        .first()
    )
    if partner is None or not hasattr(partner, "provider_account"):
        raise ApiError(404, _("Не найдено."), "not_found")
    try:
        invoice = shop_check_invoice_issue(partner=partner)
    except ProviderError as exc:
        raise ApiError(
            422,
            _("Не удалось выставить тестовый счёт: укажите тестовые пароли #1 и #2 магазина."),
            "shop_not_ready",
        ) from exc
    return Status(
        201,
        {
            "invoice_id": invoice.pk,
            "amount": f"{invoice.amount:.2f}",
            "payment_url": invoice.payment_url,
            "is_test": invoice.is_test,
        },
    )
