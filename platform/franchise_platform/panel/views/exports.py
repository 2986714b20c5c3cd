"""Payments and deals as CSV (machine-readable: codes, "1500.00", ISO 8601) and as XLSX (for people:
Russian headings, numbers as numbers, money with two places, dates as dates), each holding every row
of the filtered list, not only the page shown.

The CSV is streamed (a StreamingHttpResponse fed by a database cursor), so one of any size holds a
few thousand rows in memory at a time. A small XLSX is written by openpyxl's write-only mode into a
temporary file (spilling to disk past 8 MB) and sent from it; a larger one is built in the
background (panel/export_jobs.py) while the person watches its progress page. Every cell goes through
security/spreadsheets.py, which keeps a formula-like text (a lead title a visitor typed) from ever
being evaluated.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, cast

from django.contrib import messages
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tenants.utils import tenant_context

from franchise_platform.payments.models import Deal, Payment
from franchise_platform.payments.selectors import deal_search, payment_search
from franchise_platform.reporting.models import ExportKind
from franchise_platform.scoping import confine
from franchise_platform.security.spreadsheets import SpreadsheetSafeWriter, SpreadsheetSafeXlsx

from ..access import panel_view
from ..export_jobs import export_job_start
from ..export_rows import DEAL_COLUMNS, PAYMENT_COLUMNS, deal_row, payment_row
from ..filters import DealFilter, PaymentFilter

CHUNK = 2000
# An XLSX is built whole before its first byte goes out (a zip), by openpyxl's pure-Python XML
# writer: about 2,000 rows a second on a busy 2-core machine (bench/dashboard.py: 42,000 rows took
# 21.7 s at load 7). Up to this many rows (a few seconds) it is built within the request; a larger
# one by the worker (panel/export_jobs.py), with a page that shows its progress.
XLSX_SYNC_MAX_ROWS = 5_000
# A sheet holds 1,048,576 rows, the heading one of them: past that the way out is the CSV.
XLSX_MAX_ROWS = 1_048_575
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_IN_MEMORY = 8 * 1024 * 1024
# `panel_view`'s checks (sign-in, second factor, roles) for views whose answers are streamed.
_StreamView = Callable[..., HttpResponseBase]
# A partner user's export holds only its partner's rows (franchise_platform/scoping.py).
export_view = cast(Callable[[_StreamView], _StreamView], panel_view(scoped=True))


class _Pending:
    """What csv.writer wrote since the last chunk was sent."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def take(self) -> str:
        text, self.parts = "".join(self.parts), []
        return text


def _csv_stream(
    request: HttpRequest, header: Sequence[str], rows: Iterable[list[object]]
) -> Iterator[str]:
    # The rows are read while the answer is being sent, after the view has returned: the
    # network's schema is set here again rather than trusted to still be the connection's.
    language = getattr(request, "LANGUAGE_CODE", None)
    with tenant_context(request.tenant), translation.override(language):  # type: ignore[attr-defined]
        pending = _Pending()
        writer = SpreadsheetSafeWriter(pending)
        # A byte-order mark: Excel then reads the Cyrillic names as UTF-8.
        writer.writerow(header)
        yield "\ufeff" + pending.take()
        for n, row in enumerate(rows, 1):
            writer.writerow(row)
            if n % 500 == 0:
                yield pending.take()
        yield pending.take()


def csv_response(
    request: HttpRequest,
    name: str,
    columns: Sequence[tuple[str, Any]],
    rows: Callable[[], Iterable[list[object]]],
) -> StreamingHttpResponse:
    stamp = timezone.localtime().strftime("%Y-%m-%d")
    response = StreamingHttpResponse(
        _csv_stream(request, [code for code, _label in columns], _Lazy(rows)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return response


class _Lazy:
    """An iterable that builds its rows only when iterated (inside the stream's tenant)."""

    def __init__(self, rows: Callable[[], Iterable[list[object]]]) -> None:
        self._rows = rows

    def __iter__(self) -> Iterator[list[object]]:
        return iter(self._rows())


def xlsx_too_large(request: HttpRequest, count: int, list_url: str) -> HttpResponseRedirect:
    messages.error(
        request,
        _(
            "В XLSX помещается не больше %(max)s строк, а по этому фильтру их %(count)s: "
            "сузьте период или скачайте CSV."
        )
        % {
            "max": f"{XLSX_MAX_ROWS:,}".replace(",", "\u00a0"),
            "count": f"{count:,}".replace(",", "\u00a0"),
        },
    )
    query = request.GET.urlencode()
    return HttpResponseRedirect(f"{list_url}?{query}" if query else list_url)


def xlsx_response(
    name: str, title: str, columns: Sequence[tuple[str, Any]], rows: Iterable[list[object]]
) -> FileResponse:
    book = SpreadsheetSafeXlsx(title=title)
    book.writerow([str(label) for _code, label in columns])
    book.writerows(rows)
    out = tempfile.SpooledTemporaryFile(max_size=XLSX_IN_MEMORY)  # noqa: SIM115 - FileResponse closes it
    book.save(out)  # type: ignore[arg-type]
    out.seek(0)
    stamp = timezone.localtime().strftime("%Y-%m-%d")
    return FileResponse(
        out, as_attachment=True, filename=f"{name}-{stamp}.xlsx", content_type=XLSX_TYPE
    )


def xlsx_in_background(request: HttpRequest, kind: str, count: int) -> HttpResponseRedirect:
    job = export_job_start(
        user=request.user,
        kind=kind,
        filters={key: str(value) for key, value in request.GET.items() if value},
        rows_total=count,
        language=getattr(request, "LANGUAGE_CODE", None) or "ru",
    )
    return HttpResponseRedirect(reverse("panel:export_job", args=[job.pk]))


def _payments(request: HttpRequest) -> QuerySet[Payment]:
    filters = PaymentFilter(request.GET, user=request.user)
    return confine(payment_search(**filters.search_args()), user=request.user)


def _deals(request: HttpRequest) -> QuerySet[Deal]:
    filters = DealFilter(request.GET, user=request.user)
    return confine(deal_search(**filters.search_args()), user=request.user)


@export_view
def payment_export(request: HttpRequest) -> StreamingHttpResponse:
    """Every payment of the filtered list, machine-readable: amounts as "1500.00", times in ISO
    8601 with the zone, kinds and sources as codes (PaymentKind, PaymentSource)."""
    return csv_response(
        request,
        "payments",
        PAYMENT_COLUMNS,
        lambda: (payment_row(p, typed=False) for p in _payments(request).iterator(CHUNK)),
    )


@export_view
def payment_export_xlsx(request: HttpRequest) -> HttpResponseBase:
    payments = _payments(request)
    count = payments.count()
    if count > XLSX_MAX_ROWS:
        return xlsx_too_large(request, count, reverse("panel:payment_list"))
    if count > XLSX_SYNC_MAX_ROWS:
        return xlsx_in_background(request, ExportKind.PAYMENTS, count)
    return xlsx_response(
        "payments",
        _("Платежи"),
        PAYMENT_COLUMNS,
        (payment_row(p, typed=True) for p in payments.iterator(CHUNK)),
    )


@export_view
def deal_export(request: HttpRequest) -> StreamingHttpResponse:
    """Every deal of the filtered list, machine-readable (statuses as DealStatus codes)."""
    return csv_response(
        request,
        "deals",
        DEAL_COLUMNS,
        lambda: (deal_row(d, typed=False) for d in _deals(request).iterator(CHUNK)),
    )


@export_view
def deal_export_xlsx(request: HttpRequest) -> HttpResponseBase:
    deals = _deals(request)
    count = deals.count()
    if count > XLSX_MAX_ROWS:
        return xlsx_too_large(request, count, reverse("panel:deal_list"))
    if count > XLSX_SYNC_MAX_ROWS:
        return xlsx_in_background(request, ExportKind.DEALS, count)
    return xlsx_response(
        "deals", _("Сделки"), DEAL_COLUMNS, (deal_row(d, typed=True) for d in deals.iterator(CHUNK))
    )
