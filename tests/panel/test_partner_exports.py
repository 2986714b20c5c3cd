"""Exports in a franchisee's window: the payments' and deals' CSV and XLSX hold only its partner's
rows, whatever partner the address names."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from .test_partner_role import network  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def _csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("kind", ["payments", "deals"])
def test_csv_exports_hold_the_partners_rows_only(network, kind):  # noqa: F811
    client, ufa = network["client"], network["ufa"]

    rows = _csv_rows(client.get(f"/panel/{kind}/export.csv"))
    asked_for_ufa = _csv_rows(client.get(f"/panel/{kind}/export.csv?partner={ufa.pk}"))

    assert len(rows) == 1
    assert {row["partner_inn"] for row in rows} == {network["kazan"].inn}
    assert "Уфа" not in str(rows) and "Уфимцев" not in str(rows)
    # A partner it may not name is a filter value the list ignores, as any bad one: its own rows.
    assert asked_for_ufa == rows


@pytest.mark.parametrize("kind", ["payments", "deals"])
def test_xlsx_exports_hold_the_partners_rows_only(network, kind):  # noqa: F811
    response = network["client"].get(f"/panel/{kind}/export.xlsx")

    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    cells = [str(c.value) for row in book.active.iter_rows(min_row=2) for c in row]
    assert any("Казань" in c for c in cells)
    assert not any("Уфа" in c or "Уфимцев" in c for c in cells)
