"""The dashboard page (/panel/dashboard/) and the summary the home page shows.

Unlike the lists' filter bars, which quietly ignore a hand-edited value, the dashboard says what is
wrong with its filter (a period backwards, too long, a partner that is not this network's): a chart
of something other than what was asked would be read as the answer. Bad input answers 400 with the
form's Russian errors, never a 5xx.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any, cast

from django import forms
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from franchise_platform.scoping import scope_partner_id

from ..access import page, panel_view
from ..charts import column_chart
from ..dashboard import OUTSTANDING_HORIZON, Dashboard, DashboardQuery, Grain, dashboard_get
from ..filters import DateInput, _ListFilter

DEFAULT_DAYS = 30
EARLIEST = date(2000, 1, 1)
MAX_DAYS = 3 * 366
# Buckets per chart at most: a daily chart of years is unreadable and slow to draw.
MAX_BUCKETS = {"day": 370, "week": 160, "month": 40}
PRESETS = ((7, _("7 дней")), (30, _("30 дней")), (90, _("90 дней")), (365, _("Год")))


def auto_grain(days: int) -> Grain:
    if days <= 62:
        return "day"
    if days <= 7 * 40:
        return "week"
    return "month"


class DashboardFilter(_ListFilter):
    """Partner and location (this network's only), the period of payment and the bucket size."""

    paid_from = forms.DateField(label=_("С"), required=False, widget=DateInput())
    paid_to = forms.DateField(label=_("по"), required=False, widget=DateInput())
    grain = forms.ChoiceField(
        label=_("Группировать"),
        required=False,
        choices=[
            ("", _("Авто")),
            ("day", _("По дням")),
            ("week", _("По неделям")),
            ("month", _("По месяцам")),
        ],
    )

    def __init__(self, data: QueryDict, *, user: Any = None) -> None:
        if not data.get("paid_from") and not data.get("paid_to"):
            # The default period is written into the form, so its date fields show what is shown.
            today = timezone.localdate()
            data = data.copy()
            data["paid_from"] = (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
            data["paid_to"] = today.isoformat()
        # A partner user is offered (and may name) only its own partner and its locations.
        super().__init__(data, user=user)
        for name in ("partner", "location"):
            field = cast(forms.ChoiceField, self.fields[name])
            field.error_messages["invalid_choice"] = (
                _("Такого партнёра в сети нет.")
                if name == "partner"
                else _("Такой локации в сети нет.")
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        today = timezone.localdate()
        until: date = data.get("paid_to") or today
        since: date = data.get("paid_from") or until - timedelta(days=DEFAULT_DAYS - 1)
        if since < EARLIEST or until > today + timedelta(days=366):
            raise forms.ValidationError(
                _("Дата вне допустимого диапазона: с 2000 года и не дальше года вперёд."),
                code="out_of_range",
            )
        if since > until:
            raise forms.ValidationError(_("Начало периода позже его конца."), code="backwards")
        days = (until - since).days + 1
        if days > MAX_DAYS:
            raise forms.ValidationError(
                _("Период не может быть длиннее трёх лет."), code="too_long"
            )
        grain = cast(Grain, data.get("grain") or auto_grain(days))
        buckets = {"day": days, "week": days // 7 + 2, "month": days // 28 + 2}[grain]
        if buckets > MAX_BUCKETS[grain]:
            raise forms.ValidationError(
                _(
                    "Слишком много столбцов для такого периода: сгруппируйте по неделям или месяцам."
                ),
                code="too_many_buckets",
            )
        data["since"], data["until"], data["grain_used"] = since, until, grain
        return data

    def query(self) -> DashboardQuery:
        data = self.cleaned_data
        return DashboardQuery(
            since=data["since"],
            until=data["until"],
            grain=data["grain_used"],
            partner_id=data.get("partner") or None,
            location_id=data.get("location") or None,
        )


def payments_url(query: DashboardQuery) -> str:
    """The payments list filtered as the dashboard is: its total is the dashboard's turnover."""
    params = {"paid_from": query.since.isoformat(), "paid_to": query.until.isoformat()}
    if query.partner_id:
        params["partner"] = query.partner_id
    if query.location_id:
        params["location"] = query.location_id
    return f"{reverse('panel:payment_list')}?{urlencode(params)}"


def preset_links(query: DashboardQuery) -> list[dict[str, Any]]:
    today = timezone.localdate()
    links = []
    for days, label in PRESETS:
        params = {"paid_from": (today - timedelta(days=days - 1)).isoformat()}
        if query.partner_id:
            params["partner"] = query.partner_id
        if query.location_id:
            params["location"] = query.location_id
        links.append(
            {
                "label": label,
                "url": f"{reverse('panel:dashboard')}?{urlencode(params)}",
                "active": query.until == today and (query.until - query.since).days + 1 == days,
            }
        )
    return links


def duration_text(value: timedelta | None) -> str:
    """A median wait as a person says it: «3 дн 4 ч», «2 ч 15 мин», «40 мин»."""
    if value is None:
        return ""
    minutes = max(int(value.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return gettext("%(d)s дн %(h)s ч") % {"d": days, "h": hours}
    if hours:
        return gettext("%(h)s ч %(m)s мин") % {"h": hours, "m": minutes}
    return gettext("%(m)s мин") % {"m": minutes}


def dashboard_context(dashboard: Dashboard) -> dict[str, Any]:
    return {
        "dashboard": dashboard,
        "chart": column_chart(dashboard.series, dashboard.query.grain),
        "payments_url": payments_url(dashboard.query),
        "median_text": duration_text(dashboard.conversion.median),
        "outstanding_horizon_days": OUTSTANDING_HORIZON.days,
    }


def home_summary(*, partner_id: str | None = None) -> dict[str, Any]:
    """The home page's dashboard: the last 30 days of the whole network, or of one partner (a
    partner user's home, panel/views/partner_home.py)."""
    today = timezone.localdate()
    query = DashboardQuery(
        since=today - timedelta(days=DEFAULT_DAYS - 1), until=today, partner_id=partner_id
    )
    return dashboard_context(dashboard_get(query=query, lists=False))


@panel_view(scoped=True)
def dashboard(request: HttpRequest) -> HttpResponse:
    filters = DashboardFilter(request.GET, user=request.user)
    if not filters.is_valid():
        return page(request, "panel/dashboard.html", {"filters": filters}, status=400)
    query = filters.query()
    scope = scope_partner_id(request.user)
    if scope is not None:
        # Every figure of a partner user's dashboard is its partner's (franchise_platform/scoping.py).
        query = replace(query, partner_id=str(scope))
    context = {
        "filters": filters,
        "presets": preset_links(query),
        **dashboard_context(dashboard_get(query=query)),
    }
    return page(request, "panel/dashboard.html", context)
