"""The dashboard's daily rollup of payments and the panel's background exports (network schema)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class _Turnover(models.Model):
    """What every rollup row holds: a partner's payments of one test flag, their sum and number."""

    partner = models.ForeignKey("network.Partner", on_delete=models.CASCADE, related_name="+")
    is_test = models.BooleanField()
    amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    count = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class DailyTurnover(_Turnover):
    """The payments of one closed day (the network's time zone), one partner, one location (the
    deal's, as the payments list filters by it) and one test flag: their sum and number.

    Written only by reporting/rollup.py, which rebuilds whole days; the dashboard reads closed days
    from here and the rest (today, anything not yet rolled up) from the payments themselves."""

    day = models.DateField()
    location = models.ForeignKey(
        "network.Location", null=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["day"], name="turnover_day_idx"),
            models.Index(fields=["partner", "day"], name="turnover_partner_day_idx"),
            models.Index(fields=["location", "day"], name="turnover_location_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.partner_id} {self.location_id} {self.amount}"


class MonthlyTurnover(_Turnover):
    """DailyTurnover's rows of one month added up (the month's rolled days only: the current month
    holds its days up to the rollup's `through_day`). A year's location shares read twelve months
    of these instead of 365 days: 500 locations make ~78,000 day rows a year at 100,000 payments,
    barely fewer than the payments, but at most 6,000 month rows."""

    month = models.DateField()  # its first day
    location = models.ForeignKey(
        "network.Location", null=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["month"], name="turnover_month_idx"),
            models.Index(fields=["partner", "month"], name="turnover_partner_month_idx"),
            models.Index(fields=["location", "month"], name="turnover_location_month_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.partner_id} {self.location_id} {self.amount}"


class WeeklyTurnover(_Turnover):
    """DailyTurnover's rows of one week (Monday first) added up per partner, without locations: a
    year's weekly chart reads ~52 × partners rows (a chart filtered by location reads that
    location's day rows, a few hundred a year)."""

    week = models.DateField()  # its Monday

    class Meta:
        indexes = [
            models.Index(fields=["week"], name="turnover_week_idx"),
            models.Index(fields=["partner", "week"], name="turnover_partner_week_idx"),
        ]

    def __str__(self) -> str:
        return f"week {self.week} {self.partner_id} {self.amount}"


class DealFunnel(models.Model):
    """A deal's first link and first real payment, for the dashboard's links → paid conversion
    and median wait: a year of these is one index range, where finding each deal's first link
    among all links took the page's longest query. Kept by the rollup's refresh for deals saved
    or given a link since its last run; read for first links on closed days only."""

    deal_id = models.UUIDField(primary_key=True)
    partner_id = models.UUIDField(null=True)
    location_id = models.UUIDField(null=True)
    first_link_at = models.DateTimeField()
    first_link_day = models.DateField()
    first_paid_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["first_link_day"], name="funnel_first_link_day_idx")]

    def __str__(self) -> str:
        return f"deal {self.deal_id} linked {self.first_link_day}"


class TurnoverRollup(models.Model):
    """The rollup's one state row: which days it holds and from when changed deals are looked at."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    # Every day up to and including this one is in DailyTurnover (None: nothing rolled up yet).
    through_day = models.DateField(null=True)
    # Deals saved since this moment (a payment, a refund, a move to another location) have their
    # payments' days rebuilt by the next refresh.
    checked_from = models.DateTimeField(null=True)
    refreshed_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"rollup through {self.through_day}"


class ExportKind(models.TextChoices):
    PAYMENTS = "payments", _("Платежи")
    DEALS = "deals", _("Сделки")


class ExportState(models.TextChoices):
    QUEUED = "queued", _("В очереди")
    RUNNING = "running", _("Собирается")
    DONE = "done", _("Готов")
    FAILED = "failed", _("Ошибка")


class ExportJob(models.Model):
    """An XLSX export built in the background: who asked, what (kind and the list's filter), how far
    it got, and the file itself (in the database: private, served only by the panel's own view)."""

    # Random, so a job's address tells nothing about the others.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No cascade from accounts.User: users live in the public schema too (operators), where this
    # table does not exist, and deleting one would make Django look for jobs here. Network users
    # are deactivated, never deleted; a job whose requester is gone fails (export_jobs.py).
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # The partner a partner user was confined to when asking (None: the whole network).
    partner_id = models.UUIDField(null=True)
    kind = models.CharField(max_length=16, choices=ExportKind.choices)
    filters = models.JSONField(default=dict)
    language = models.CharField(max_length=8, default="ru")
    state = models.CharField(max_length=16, choices=ExportState.choices, default=ExportState.QUEUED)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    filename = models.CharField(max_length=100, blank=True)
    content = models.BinaryField(null=True, editable=False)
    size = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="exportjob_created_idx")]

    def __str__(self) -> str:
        return f"{self.kind} export {self.pk} ({self.state})"

    @property
    def percent(self) -> int:
        if self.state == ExportState.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(100, self.rows_done * 100 // self.rows_total)
