"""Payments: the filtered list with its total, and the same list as CSV."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from franchise_platform.payments.models import Payment
from franchise_platform.payments.selectors import payment_search, payment_totals
from franchise_platform.security.spreadsheets import SpreadsheetSafeWriter

from ..access import page, panel_view
from ..filters import PaymentFilter, query_without_page

PAYMENTS_PAGE_SIZE = 50
CSV_COLUMNS = (
    "paid_at",
    "amount",
    "currency",
    "kind",
    "invoice_id",
    "crm_deal_id",
    "deal_title",
    "partner",
    "partner_inn",
    "location",
    "source",
    "is_test",
    "label",  # «ТЕСТ» for a test payment (never money), what to refund for a superseded one
)


@panel_view()
def payment_list(request: HttpRequest) -> HttpResponse:
    filters = PaymentFilter(request.GET)
    payments = payment_search(**filters.search_args())
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


def _csv_label(payment: Payment) -> str:
    if payment.is_test:
        return _("ТЕСТ")
    if payment.refund_due:
        return _("вернуть %(sum)s") % {"sum": f"{payment.refund_due:.2f}"}
    return ""


def _csv_write(response: HttpResponse, payments: Iterable[Payment]) -> None:
    # A byte-order mark: Excel then reads the Cyrillic names as UTF-8.
    response.write("\ufeff")
    # Lead titles and partner names come from the public: a cell that would start a formula in a
    # spreadsheet is written as text.
    writer = SpreadsheetSafeWriter(response)
    writer.writerow(CSV_COLUMNS)
    for p in payments:
        deal = p.deal
        writer.writerow(
            [
                timezone.localtime(p.paid_at).isoformat(),
                f"{p.amount:.2f}",
                "RUB",
                p.kind,
                p.invoice_id,
                deal.crm_deal_id,
                deal.title,
                p.partner.name,
                p.partner.inn,
                deal.location.name if deal.location else "",
                p.source,
                "1" if p.is_test else "0",
                _csv_label(p),
            ]
        )


@panel_view()
def payment_export(request: HttpRequest) -> HttpResponse:
    """Every payment of the filtered list (not only the page shown), machine-readable: amounts as
    "1500.00", times in ISO 8601 with the zone, kinds and sources as codes (PaymentKind,
    PaymentSource)."""
    filters = PaymentFilter(request.GET)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="payments-{stamp}.csv"'
    _csv_write(response, payment_search(**filters.search_args()).iterator(chunk_size=2000))
    return response
