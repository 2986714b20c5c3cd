"""The weekly summary e-mailed to the people who asked for it (off by default, per person).

One summary per person per ISO week: the week sent is recorded on the person's preference, so a
repeated or duplicated beat run sends nothing twice. It covers the seven days before the Monday
it is sent on (network time zone): turnover (real payments minus refunds finished in the week),
the top and the lagging partners, CRM updates that are dead, settlement receipts needing attention.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_connectors.registry import crm_app
from franchise_platform.accounts.models import Role, User
from franchise_platform.crm_sync.models import OutboxMessage, OutboxStatus
from franchise_platform.network.models import Partner
from franchise_platform.payments.models import Payment, Refund, RefundStatus
from franchise_platform.payments.selectors import settlement_receipts_attention

from .models import SummaryPreference

ZERO = Decimal("0.00")
TOP = 3
# Roles that see the whole network in the panel; any other role (a franchisee's own window)
# never receives the network-wide summary.
SUMMARY_ROLES = (Role.OWNER, Role.ADMIN, Role.VIEWER)


@dataclass(frozen=True)
class PartnerTurnover:
    name: str
    turnover: Decimal


@dataclass(frozen=True)
class WeeklySummary:
    week_start: date  # the Monday the covered week starts
    week_end: date  # its Sunday
    turnover: Decimal
    payments: int
    top: list[PartnerTurnover]
    lagging: list[PartnerTurnover]
    dead_crm_updates: int
    receipts_attention: int


def week_covered(now: datetime | None = None) -> tuple[date, date]:
    """The last full Monday–Sunday week before `now` (network time zone)."""
    today = timezone.localdate(now or timezone.now())
    this_monday = today - timedelta(days=today.weekday())
    start = this_monday - timedelta(days=7)
    return start, start + timedelta(days=6)


def summary_preference_get(*, user_id: int) -> bool:
    pref = SummaryPreference.objects.filter(user_id=user_id).first()
    return bool(pref and pref.weekly_summary)


def summary_preference_set(*, user_id: int, enabled: bool) -> None:
    SummaryPreference.objects.update_or_create(
        user_id=user_id, defaults={"weekly_summary": enabled}
    )


def weekly_summary_build(*, now: datetime | None = None) -> WeeklySummary:
    start_day, end_day = week_covered(now)
    zone = timezone.get_current_timezone()
    start = datetime.combine(start_day, datetime.min.time(), tzinfo=zone)
    end = start + timedelta(days=7)
    payments = Payment.objects.filter(is_test=False, paid_at__gte=start, paid_at__lt=end)
    refunds = Refund.objects.annotate(moment=Coalesce("finished_at", "created_at")).filter(
        status=RefundStatus.FINISHED, payment__is_test=False, moment__gte=start, moment__lt=end
    )
    by_partner: dict[UUID, Decimal] = {p.pk: ZERO for p in Partner.objects.filter(active=True)}
    for partner_id, total in payments.values_list("partner_id").annotate(total=Sum("amount")):
        by_partner[partner_id] = by_partner.get(partner_id, ZERO) + total
    for partner_id, total in refunds.values_list("payment__partner_id").annotate(
        total=Sum("amount")
    ):
        by_partner[partner_id] = by_partner.get(partner_id, ZERO) - total
    names: dict[UUID, str] = dict(
        Partner.objects.filter(pk__in=list(by_partner)).values_list("pk", "name")
    )
    ranked = sorted(
        (PartnerTurnover(names.get(pk, "?"), total) for pk, total in by_partner.items()),
        key=lambda p: (-p.turnover, p.name),
    )
    top = ranked[:TOP]
    lagging = [p for p in reversed(ranked) if p not in top][:TOP]
    return WeeklySummary(
        week_start=start_day,
        week_end=end_day,
        turnover=sum((p.turnover for p in ranked), ZERO),
        payments=payments.count(),
        top=top,
        lagging=lagging,
        dead_crm_updates=OutboxMessage.objects.filter(status=OutboxStatus.DEAD).count(),
        receipts_attention=settlement_receipts_attention().count(),
    )


def _network_crm_title() -> str:
    """The name of the current network's CRM for the summary's wording (amoCRM's by default)."""
    slug = getattr(getattr(db_connection, "tenant", None), "crm", "") or "amocrm"
    try:
        return crm_app(slug).title
    except LookupError:
        return "amoCRM"


def weekly_summaries_send(*, network_name: str, panel_url: str, now: datetime | None = None) -> int:
    """Send this week's summary to every person who turned it on and has not had it yet."""
    week_start, _end = week_covered(now)
    wanted = SummaryPreference.objects.filter(weekly_summary=True).exclude(
        last_sent_week=week_start
    )
    people = {
        u.pk: u
        for u in User.objects.filter(
            pk__in=wanted.values("user_id"), is_active=True, role__in=SUMMARY_ROLES
        )
    }
    if not people:
        return 0
    summary = weekly_summary_build(now=now)
    crm_title = _network_crm_title()
    sent = 0
    for user_id, user in people.items():
        with transaction.atomic():
            pref = (
                SummaryPreference.objects.select_for_update()
                .filter(user_id=user_id, weekly_summary=True)
                .exclude(last_sent_week=week_start)
                .first()
            )
            if pref is None:  # a concurrent run sent it
                continue
            context = {
                "summary": summary,
                "network_name": network_name,
                "panel_url": panel_url,
                "crm_title": crm_title,
            }
            send_mail(
                _("%(network)s: сводка за неделю %(start)s–%(end)s")
                % {
                    "network": network_name,
                    "start": f"{summary.week_start:%d.%m}",
                    "end": f"{summary.week_end:%d.%m.%Y}",
                },
                render_to_string("panel/royalties/summary_email.txt", context),
                settings.DEFAULT_FROM_EMAIL,
                [user.email],
            )
            pref.last_sent_week = week_start
            pref.save(update_fields=["last_sent_week"])
            sent += 1
    return sent
