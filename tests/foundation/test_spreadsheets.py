"""The one helper every CSV export writes through: formulas stay text, numbers stay numbers; and
the one that masks provider signatures wherever stored provider fields leave the database."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from franchise_platform.security.redaction import MASK, signatures_masked
from franchise_platform.security.spreadsheets import SpreadsheetSafeWriter, spreadsheet_cell


@pytest.mark.parametrize(
    "hostile",
    ["=1+1", "+79990000000", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1", "-A1", "=cmd|' /C calc'!A0"],
)
def test_a_cell_that_would_start_a_formula_is_written_as_text(hostile):
    assert spreadsheet_cell(hostile) == "'" + hostile


@pytest.mark.parametrize(
    "plain", ["Квест «Тайная комната»", "1500.00", "-5", "-1500.00", "", "a=b"]
)
def test_other_cells_are_written_as_they_are(plain):
    assert spreadsheet_cell(plain) == plain


def test_the_writer_neutralises_every_cell_and_none_is_empty():
    out = io.StringIO()
    SpreadsheetSafeWriter(out).writerow(["=HYPERLINK(1)", None, 7, "ok"])

    assert next(csv.reader(io.StringIO(out.getvalue()))) == ["'=HYPERLINK(1)", "", "7", "ok"]


def test_signatures_are_masked_by_name_at_any_depth_and_inside_urls():
    stored = {
        "params": {"OutSum": "10.00", "SIGNATUREVALUE": "ABC123", "nested": [{"sig": "s1"}]},
        "url": "https://auth.robokassa.ru/Merchant/Index.aspx?InvId=1&SignatureValue=abc123&x=1",
        "note": "no signature here",
    }

    masked = signatures_masked(stored)

    assert masked["params"] == {
        "OutSum": "10.00",
        "SIGNATUREVALUE": MASK,
        "nested": [{"sig": MASK}],
    }
    assert masked["url"].endswith(f"InvId=1&SignatureValue={MASK}&x=1")
    assert masked["note"] == "no signature here"


def test_no_export_writes_csv_around_the_safe_writer():
    """Every CSV the platform writes goes through SpreadsheetSafeWriter: no other module may build
    a csv writer of its own (one that would forget the formula check)."""
    root = Path(__file__).resolve().parents[2]
    allowed = root / "platform/franchise_platform/security/spreadsheets.py"
    sources = [
        path
        for top in ("platform", "tenants", "billing_providers", "crm_connectors")
        for path in (root / top).rglob("*.py")
        if path != allowed and "migrations" not in path.parts
    ]

    offenders = [
        str(path.relative_to(root))
        for path in sources
        if re.search(r"csv\.(writer|DictWriter)\(|from csv import", path.read_text("utf-8"))
    ]

    assert sources and offenders == []
