"""Payments: the filtered list with its total (its CSV and XLSX: views/exports.py)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse

from franchise_platform.payments.selectors import payment_search, payment_totals
from franchise_platform.scoping import confine

from ..access import page, panel_view
from ..filters import PaymentFilter, query_without_page

PAYMENTS_PAGE_SIZE = 50


@panel_view(scoped=True)
def payment_list(request: HttpRequest) -> HttpResponse:
    filters = PaymentFilter(request.GET, user=request.user)
    payments = confine(payment_search(**filters.search_args()), user=request.user)
    paginator = Paginator(payments, PAYMENTS_PAGE_SIZE)
    page_obj = paginator.get_page(request.GET.get("page"))
    context = {
        "filters": filters,
        "page_obj": page_obj,
        "payments": page_obj.object_list,
        "totals": payment_totals(payments=payments),
        "query": query_without_page(request.GET),
    }
    return page(request, "panel/payments/list.html", context)
