"""A statement as PDF (for people and the e-mail), XLSX and CSV (for spreadsheets).

Text cells come from the public (deal titles, partner names): in CSV and XLSX a cell that would
start a formula is written as text (security/spreadsheets.py). The PDF uses DejaVu Sans from
Debian's fonts-dejavu-core for Cyrillic; without it the PDF falls back to Helvetica, which has
no Cyrillic glyphs (the deployment image installs the font package).
"""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from franchise_platform.security.spreadsheets import (
    Money,
    SpreadsheetSafeWriter,
    SpreadsheetSafeXlsx,
)

from .models import RoyaltyStatement

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"

LINE_COLUMNS = ("happened_at", "kind", "invoice_id", "crm_deal_id", "deal_title", "amount")


def _fonts() -> tuple[str, str]:
    # local: heavy, loaded only when a PDF is built
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    regular, bold = FONT_DIR / f"{FONT}.ttf", FONT_DIR / f"{FONT_BOLD}.ttf"
    if not (regular.exists() and bold.exists()):
        return "Helvetica", "Helvetica-Bold"
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(regular)))
        pdfmetrics.registerFont(TTFont(FONT_BOLD, str(bold)))
    return FONT, FONT_BOLD


def _number(value: object) -> str:
    """ "500000.00" → "500 000", "7.50" → "7,5": as people read numbers (current language)."""

    amount = Decimal(str(value))
    places = max(0, -amount.normalize().as_tuple().exponent)  # type: ignore[operator]
    return number_format(amount, decimal_pos=min(places, 2), force_grouping=True)


def rule_words(snapshot: dict[str, Any]) -> str:
    """The rule of a statement in words (Russian first)."""
    kind = snapshot.get("kind")
    minimum = snapshot.get("minimum")
    if kind == "fixed":
        return _("Фиксированная сумма %(sum)s ₽ в месяц") % {
            "sum": _number(snapshot.get("fixed_amount") or 0)
        }
    if kind == "percent":
        words = _("%(p)s %% от оборота") % {"p": _number(snapshot.get("percent") or 0)}
    else:
        steps = "; ".join(
            _("от %(from)s ₽ — %(p)s %%") % {"from": _number(t["from"]), "p": _number(t["percent"])}
            for t in snapshot.get("tiers") or []
        )
        words = _("Прогрессивная шкала: %(steps)s") % {"steps": steps}
    if minimum:
        words += _(", минимум %(sum)s ₽") % {"sum": _number(minimum)}
    return words


def _period(statement: RoyaltyStatement) -> str:
    return f"{statement.period:%m.%Y}"


def statement_pdf(statement: RoyaltyStatement) -> bytes:
    # local: heavy, loaded only when a PDF is built
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    regular, bold = _fonts()
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=_("Ведомость роялти %(period)s") % {"period": _period(statement)},
        author=statement.partner_name,
    )
    text = ParagraphStyle("text", fontName=regular, fontSize=10, leading=14)
    heading = ParagraphStyle("heading", fontName=bold, fontSize=15, leading=20)
    story: list[object] = [
        Paragraph(_("Ведомость роялти за %(period)s") % {"period": _period(statement)}, heading),
        Paragraph(statement.partner_name, text),
        Spacer(1, 4 * mm),
    ]
    summary = [
        [_("Статус"), statement.get_status_display()],
        [_("Правило"), rule_words(statement.rule_snapshot)],
        [_("Оборот"), f"{statement.turnover:.2f} ₽"],
        [_("Возвраты"), f"{statement.refunds:.2f} ₽"],
        [_("База"), f"{statement.base:.2f} ₽"],
        [_("Роялти к оплате"), f"{statement.amount:.2f} ₽"],
    ]
    table = Table(
        [[Paragraph(a, text), Paragraph(b, text)] for a, b in summary], colWidths=[45 * mm, None]
    )
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [table, Spacer(1, 6 * mm)]
    rows: list[list[object]] = [[_("Дата"), _("Операция"), _("Счёт"), _("Сделка"), _("Сумма, ₽")]]
    for line in statement.lines.all():
        rows.append(
            [
                f"{timezone.localtime(line.happened_at):%d.%m.%Y %H:%M}",
                line.get_kind_display(),
                str(line.invoice_id),
                Paragraph(f"#{line.crm_deal_id or ''} {_escape(line.deal_title)}", text),
                f"{line.amount:.2f}",
            ]
        )
    if len(rows) == 1:
        rows.append(["", _("Платежей за месяц нет"), "", "", ""])
    lines = Table(rows, colWidths=[32 * mm, 22 * mm, 26 * mm, None, 26 * mm], repeatRows=1)
    lines.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), regular),
                ("FONTNAME", (0, 0), (-1, 0), bold),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("ALIGN", (-1, 0), (-1, -1), "RIGHT"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story.append(lines)
    doc.build(story)
    return out.getvalue()


def _escape(text: str) -> str:
    # Paragraph reads a mini-markup: a deal title is text, never tags.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _line_row(line: object) -> list[object]:
    happened_at = timezone.localtime(line.happened_at).isoformat()  # type: ignore[attr-defined]
    return [
        happened_at,
        line.kind,  # type: ignore[attr-defined]
        line.invoice_id,  # type: ignore[attr-defined]
        line.crm_deal_id,  # type: ignore[attr-defined]
        line.deal_title,  # type: ignore[attr-defined]
        f"{line.amount:.2f}",  # type: ignore[attr-defined]
    ]


def _summary_rows(statement: RoyaltyStatement) -> list[tuple[str, object]]:
    return [
        ("partner", statement.partner_name),
        ("period", f"{statement.period:%Y-%m}"),
        ("status", statement.status),
        ("rule", rule_words(statement.rule_snapshot)),
        ("turnover", f"{statement.turnover:.2f}"),
        ("refunds", f"{statement.refunds:.2f}"),
        ("base", f"{statement.base:.2f}"),
        ("amount", f"{statement.amount:.2f}"),
        ("currency", "RUB"),
    ]


def statement_csv(statement: RoyaltyStatement) -> str:
    """The summary as key/value rows, an empty row, then one row per payment or refund."""
    out = io.StringIO()
    out.write("\ufeff")  # Excel then reads the Cyrillic names as UTF-8
    writer = SpreadsheetSafeWriter(out)
    writer.writerows(_summary_rows(statement))
    writer.writerow([])
    writer.writerow(LINE_COLUMNS)
    writer.writerows(_line_row(line) for line in statement.lines.all())
    return out.getvalue()


def statement_xlsx(statement: RoyaltyStatement) -> bytes:
    """The same rows as the CSV, typed: money as numbers with two places, times as dates, text
    never a formula (security/spreadsheets.py)."""
    book = SpreadsheetSafeXlsx(title=_("Ведомость"))
    money_keys = {"turnover", "refunds", "base", "amount"}
    for key, value in _summary_rows(statement):
        book.writerow([key, Money(str(value)) if key in money_keys else value])
    book.writerow([])
    book.writerow(LINE_COLUMNS)
    for line in statement.lines.all():
        book.writerow(
            [
                line.happened_at,
                line.kind,
                line.invoice_id,
                line.crm_deal_id,
                line.deal_title,
                Money(line.amount),
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
