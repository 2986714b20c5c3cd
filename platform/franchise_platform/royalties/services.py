"""Writes: rules, drafting statements (idempotent), approval (owner, audited), sending."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from franchise_platform.network.models import Partner
from franchise_platform.security.audit import audit_record

from .errors import RoyaltyError
from .exports import statement_pdf
from .models import RoyaltyRule, RoyaltyStatement, StatementLine, StatementStatus
from .periods import last_closed_month
from .rules import RuleInvalid, RuleSpec, royalty_amount, rule_validate, spec_from_stored
from .selectors import partners_with_rules, royalty_base_lines


def royalty_rule_save(
    *, partner_id: UUID | str, spec: RuleSpec, email: str, actor: str, ip_address: str | None = None
) -> RoyaltyRule:
    try:
        rule_validate(spec)
    except RuleInvalid as exc:
        raise RoyaltyError(str(exc), "invalid_rule") from None
    partner = Partner.objects.get(pk=partner_id)
    snapshot = spec.snapshot()
    with transaction.atomic():
        rule = RoyaltyRule.objects.select_for_update().filter(partner=partner).first()
        before = rule_spec_of(rule).snapshot() if rule else {}
        before_email = rule.email if rule else ""
        rule = rule or RoyaltyRule(partner=partner)
        rule.kind = spec.kind
        rule.percent = spec.percent
        rule.fixed_amount = spec.fixed_amount
        rule.minimum = spec.minimum
        rule.tiers = snapshot["tiers"]
        rule.email = email
        rule.save()
        changes = {
            key: (before.get(key), value)
            for key, value in snapshot.items()
            if before.get(key) != value
        }
        if before_email != email:
            changes["email"] = (before_email, email)
        audit_record(
            actor=actor,
            action="royalty.rule",
            obj=partner,
            changes=changes,
            ip_address=ip_address,
        )
    return rule


def rule_spec_of(rule: RoyaltyRule) -> RuleSpec:
    return spec_from_stored(
        kind=rule.kind,
        percent=rule.percent,
        fixed_amount=rule.fixed_amount,
        minimum=rule.minimum,
        tiers=rule.tiers,
    )


def statement_draft(
    *, partner_id: UUID | str, period: date, now: datetime | None = None
) -> RoyaltyStatement | None:
    """Draft (or re-draft) the partner's statement for `period` (a first of month). One statement
    per partner and month: a draft is recomputed from the payments as they are now, an approved
    one is returned untouched. None when the partner has no royalty rule."""
    if period > last_closed_month(now):
        raise RoyaltyError(
            _("Месяц ещё не закончился: ведомость формируется после него."), "open_period"
        )
    with transaction.atomic():
        # The partner's row serialises drafts of its statements (the beat task and a person).
        partner = Partner.objects.select_for_update().get(pk=partner_id)
        rule = RoyaltyRule.objects.filter(partner=partner).first()
        if rule is None:
            return None
        statement = (
            RoyaltyStatement.objects.select_for_update()
            .filter(partner=partner, period=period)
            .first()
        )
        if statement is not None and statement.status != StatementStatus.DRAFT:
            return statement
        spec = rule_spec_of(rule)
        lines = royalty_base_lines(partner_id=partner.pk, period=period)
        turnover = sum((line.amount for line in lines if line.amount > 0), Decimal("0.00"))
        refunds = -sum((line.amount for line in lines if line.amount < 0), Decimal("0.00"))
        base = turnover - refunds
        statement = statement or RoyaltyStatement(partner=partner, period=period)
        statement.turnover = turnover
        statement.refunds = refunds
        statement.base = base
        statement.amount = royalty_amount(spec=spec, base=base)
        statement.rule_snapshot = spec.snapshot()
        statement.partner_name = partner.name
        statement.drafted_at = now or timezone.now()
        statement.save()
        statement.lines.all().delete()
        StatementLine.objects.bulk_create(
            StatementLine(
                statement=statement,
                kind=line.kind,
                payment_id=line.payment_id,
                refund_id=line.refund_id,
                invoice_id=line.invoice_id,
                crm_deal_id=line.crm_deal_id,
                deal_title=line.deal_title[:300],
                happened_at=line.happened_at,
                amount=line.amount,
            )
            for line in lines
        )
    return statement


def statements_draft_closed_month(*, now: datetime | None = None) -> int:
    """Draft the month that ended last for every partner with a rule (the beat task)."""
    period = last_closed_month(now)
    count = 0
    for partner in partners_with_rules():
        if statement_draft(partner_id=partner.pk, period=period, now=now) is not None:
            count += 1
    return count


def statement_approve(
    *, statement_id: UUID | str, actor: str, ip_address: str | None = None
) -> RoyaltyStatement:
    """Freeze a draft. Approving an approved statement changes nothing."""
    with transaction.atomic():
        statement = RoyaltyStatement.objects.select_for_update().get(pk=statement_id)
        if statement.status == StatementStatus.APPROVED:
            return statement
        statement.status = StatementStatus.APPROVED
        statement.approved_at = timezone.now()
        statement.approved_by = actor[:254]
        statement.save(update_fields=["status", "approved_at", "approved_by"])
        audit_record(
            actor=actor,
            action="royalty.approve",
            obj=statement,
            changes={
                "status": (StatementStatus.DRAFT, StatementStatus.APPROVED),
                "amount": (None, f"{statement.amount:.2f}"),
            },
            ip_address=ip_address,
        )
    return statement


def statement_send(*, statement_id: UUID | str, actor: str, ip_address: str | None = None) -> bool:
    """E-mail an approved statement (PDF attached) to the address of the partner's rule, once.
    True when sent now, False when it had been sent before."""

    with transaction.atomic():
        statement = (
            RoyaltyStatement.objects.select_for_update()
            .select_related("partner")
            .get(pk=statement_id)
        )
        if statement.status != StatementStatus.APPROVED:
            raise RoyaltyError(_("Отправить можно только утверждённую ведомость."), "not_approved")
        if statement.sent_at is not None:
            return False
        rule = RoyaltyRule.objects.filter(partner_id=statement.partner_id).first()
        address = rule.email if rule else ""
        if not address:
            raise RoyaltyError(
                _("У партнёра не указан e-mail для ведомостей: добавьте его в правиле роялти."),
                "no_email",
            )
        period = f"{statement.period:%m.%Y}"
        message = EmailMessage(
            subject=_("Ведомость роялти за %(period)s") % {"period": period},
            body=_(
                "Здравствуйте!\n\nВо вложении ведомость роялти «%(partner)s» за %(period)s.\n"
                "База: %(base)s ₽, к оплате: %(amount)s ₽.\n"
            )
            % {
                "partner": statement.partner_name,
                "period": period,
                "base": f"{statement.base:.2f}",
                "amount": f"{statement.amount:.2f}",
            },
            to=[address],
        )
        message.attach(
            f"royalty-{statement.period:%Y-%m}.pdf", statement_pdf(statement), "application/pdf"
        )
        message.send()
        statement.sent_at = timezone.now()
        statement.sent_to = address
        statement.save(update_fields=["sent_at", "sent_to"])
        audit_record(
            actor=actor,
            action="royalty.send",
            obj=statement,
            changes={"sent_to": (None, address)},
            ip_address=ip_address,
        )
    return True
