"""Deals: the filtered list and one deal's history (links, invoices, notifications, payments,
CRM messages). Read-only: deals are made by the widget and changed by payments."""

from __future__ import annotations

import uuid
from dataclasses import replace

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse

from franchise_platform.crm_sync.outbox import deal_outbox_messages
from franchise_platform.network.models import ProviderAccount
from franchise_platform.payments.models import Deal
from franchise_platform.payments.selectors import (
    DealHistory,
    deal_get,
    deal_history,
    deal_search,
)
from franchise_platform.scoping import confine, scope_partner_id
from tenants.services import network_base_url

from ..access import page, panel_view
from ..context import crm_title_of
from ..filters import DealFilter, query_without_page
from ..timeline import callback_reason, timeline_events
from .refunds import deal_refunds, refund_offers

DEALS_PAGE_SIZE = 50


@panel_view(scoped=True)
def deal_list(request: HttpRequest) -> HttpResponse:
    filters = DealFilter(request.GET, user=request.user)
    deals = confine(deal_search(**filters.search_args()), user=request.user)
    paginator = Paginator(deals, DEALS_PAGE_SIZE)
    page_obj = paginator.get_page(request.GET.get("page"))
    context = {
        "filters": filters,
        "page_obj": page_obj,
        "deals": page_obj.object_list,
        "query": query_without_page(request.GET),
    }
    return page(request, "panel/deals/list.html", context)


def _partners_part(history: DealHistory, partner_id: uuid.UUID) -> DealHistory:
    """A deal's history as a partner user may see it. A deal moved to another location can hold
    invoices, notifications and payments of the partner it had before: those are not its own."""
    shops = set(ProviderAccount.objects.filter(partner_id=partner_id).values_list("pk", flat=True))
    return replace(
        history,
        invoices=[i for i in history.invoices if i.provider_account_id in shops],
        callbacks=[c for c in history.callbacks if c.event.provider_account_id in shops],
        payments=[p for p in history.payments if p.partner_id == partner_id],
        settlement_receipts=[
            r for r in history.settlement_receipts if r.payment.partner_id == partner_id
        ],
    )


@panel_view(scoped=True)
def deal_detail(request: HttpRequest, deal_id: str) -> HttpResponse:
    deal = deal_get(deal_id=deal_id)
    # Another partner's deal is, for a partner user, a deal that does not exist (the panel's 404).
    if not confine(Deal.objects.filter(pk=deal.pk), user=request.user).exists():
        raise Deal.DoesNotExist
    history = deal_history(deal=deal)
    history = replace(history, outbox=deal_outbox_messages(deal=deal))
    refunds = deal_refunds(deal=deal)
    partner_id = scope_partner_id(request.user)
    if partner_id is not None:
        history = _partners_part(history, partner_id)
        refunds = [r for r in refunds if r.payment.partner_id == partner_id]
    context = {
        "deal": deal,
        "history": history,
        "callbacks": [(row, callback_reason(row.event)) for row in history.callbacks],
        "events": timeline_events(
            history, crm_title_of(getattr(getattr(request, "tenant", None), "crm", ""))
        ),
        "pay_base": network_base_url(request.tenant),  # type: ignore[attr-defined]
        "refunds": refunds,
        "refund_offers": refund_offers(deal=deal) if request.user.can_edit else {},  # type: ignore[union-attr]
    }
    return page(request, "panel/deals/detail.html", context)
