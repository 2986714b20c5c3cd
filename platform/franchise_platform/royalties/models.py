"""Royalty rules, monthly statements with the payments behind them, and summary preferences
(network schema)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

ZERO = Decimal("0.00")


class RuleKind(models.TextChoices):
    PERCENT = "percent", _("Процент от оборота")
    FIXED = "fixed", _("Фиксированная сумма в месяц")
    TIERS = "tiers", _("Прогрессивная шкала")


class RoyaltyRule(models.Model):
    """How much one partner owes the network per month (semantics in rules.py)."""

    partner = models.OneToOneField(
        "network.Partner", on_delete=models.CASCADE, related_name="royalty_rule"
    )
    kind = models.CharField(max_length=16, choices=RuleKind.choices, default=RuleKind.PERCENT)
    percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    fixed_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    # The least a month costs (percent and tiers); zero or empty: no minimum.
    minimum = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    # [{"from": "0.00", "percent": "6.00"}, {"from": "500000.00", "percent": "4.00"}], ascending.
    tiers = models.JSONField(default=list, blank=True)
    # Where the partner's statements are e-mailed (partners have no e-mail of their own).
    email = models.EmailField(max_length=254, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"royalty rule of {self.partner_id}"


class StatementStatus(models.TextChoices):
    DRAFT = "draft", _("Черновик")
    APPROVED = "approved", _("Утверждён")


class RoyaltyStatement(models.Model):
    """One partner's royalty for one calendar month (network time zone). A draft is recomputed
    whenever it is drafted again; an approved statement is frozen."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(
        "network.Partner", on_delete=models.PROTECT, related_name="royalty_statements"
    )
    # The first day of the month.
    period = models.DateField()
    status = models.CharField(
        max_length=16, choices=StatementStatus.choices, default=StatementStatus.DRAFT
    )
    turnover = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    refunds = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    # turnover - refunds; may be negative (more returned than taken in the month).
    base = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    amount = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    # The rule as it was when the amount was computed (money as decimal strings).
    rule_snapshot = models.JSONField(default=dict)
    partner_name = models.CharField(max_length=300)
    drafted_at = models.DateTimeField()
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.CharField(max_length=254, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_to = models.CharField(max_length=254, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "period"], name="royalty_one_statement_per_partner_month"
            )
        ]
        indexes = [models.Index(fields=["-period", "partner_name"])]
        ordering = ["-period", "partner_name"]

    def __str__(self) -> str:
        return f"{self.partner_name} {self.period:%Y-%m}"


class LineKind(models.TextChoices):
    PAYMENT = "payment", _("Платёж")
    REFUND = "refund", _("Возврат")


class StatementLine(models.Model):
    """A payment or refund counted in a statement, copied so an approved statement never moves."""

    statement = models.ForeignKey(RoyaltyStatement, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=16, choices=LineKind.choices)
    payment_id = models.UUIDField()
    refund_id = models.UUIDField(null=True, blank=True)
    invoice_id = models.BigIntegerField()
    crm_deal_id = models.BigIntegerField(null=True, blank=True)
    deal_title = models.CharField(max_length=300, blank=True)
    happened_at = models.DateTimeField()
    # Positive for a payment, negative for a refund.
    amount = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["happened_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


class SummaryPreference(models.Model):
    """A person's weekly summary switch (off unless turned on). Keyed by the user's id, not a
    foreign key: users also live in the public schema, where a deletion must not reach here."""

    user_id = models.BigIntegerField(unique=True)
    weekly_summary = models.BooleanField(default=False)
    # The Monday of the last week a summary was sent for: once per week per person.
    last_sent_week = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"summary preference of user {self.user_id}"
