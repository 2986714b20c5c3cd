"""The filter bars of the deals and payments lists: GET forms whose bad values are ignored (a list
never answers an error for a hand-edited address), turned into the selectors' arguments."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, cast

from django import forms
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from franchise_platform.network.models import Location, Partner
from franchise_platform.payments.models import DealStatus
from franchise_platform.scoping import confine, is_confined


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


def _day_start(day: date | None) -> datetime | None:
    """Midnight of a day in the network's time zone (Europe/Moscow): what an owner means by it."""
    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day, time.min))


def _day_after(day: date | None) -> datetime | None:
    # The calendar's last day (9999-12-31, typed by hand) has no day after it: no upper bound.
    if day is None or day >= date.max:
        return None
    return _day_start(day + timedelta(days=1))


class _ListFilter(forms.Form):
    partner = forms.ChoiceField(label=_("Партнёр"), required=False)
    location = forms.ChoiceField(label=_("Локация"), required=False)

    def __init__(self, data: QueryDict, *, user: Any = None) -> None:
        """With the signed-in `user`, a partner user is offered only its own partner and its
        locations (the lists confine the rows themselves, franchise_platform/scoping.py)."""
        super().__init__(data)
        partners = Partner.objects.all()
        locations = Location.objects.all()
        if user is not None:
            partners, locations = confine(partners, user=user), confine(locations, user=user)
        partner = cast(forms.ChoiceField, self.fields["partner"])
        own = [(str(pk), name) for pk, name in partners.values_list("pk", "name")]
        # A partner user's list holds its own partner only: "all partners" would promise more
        # than it ever shows.
        partner.choices = own if is_confined(user) else [("", _("Все партнёры")), *own]
        location = cast(forms.ChoiceField, self.fields["location"])
        location.choices = [
            ("", _("Все локации")),
            *((str(pk), name) for pk, name in locations.values_list("pk", "name")),
        ]

    def value(self, name: str) -> Any:
        """The cleaned value of a field, or None when it is empty or was not valid."""
        if not hasattr(self, "cleaned_data"):
            self.is_valid()
        return self.cleaned_data.get(name) or None

    @property
    def active(self) -> bool:
        return any(self.value(name) for name in self.fields)


class DealFilter(_ListFilter):
    status = forms.ChoiceField(
        label=_("Статус"),
        required=False,
        choices=[("", _("Любой статус")), *DealStatus.choices],
    )
    created_from = forms.DateField(label=_("Создана с"), required=False, widget=DateInput())
    created_to = forms.DateField(label=_("по"), required=False, widget=DateInput())
    paid_from = forms.DateField(label=_("Оплачена с"), required=False, widget=DateInput())
    paid_to = forms.DateField(label=_("по"), required=False, widget=DateInput())

    def search_args(self) -> dict[str, Any]:
        return {
            "partner_id": self.value("partner"),
            "location_id": self.value("location"),
            "status": self.value("status"),
            "created_since": _day_start(self.value("created_from")),
            "created_until": _day_after(self.value("created_to")),
            "paid_since": _day_start(self.value("paid_from")),
            "paid_until": _day_after(self.value("paid_to")),
        }


class PaymentFilter(_ListFilter):
    paid_from = forms.DateField(label=_("Оплачены с"), required=False, widget=DateInput())
    paid_to = forms.DateField(label=_("по"), required=False, widget=DateInput())

    def search_args(self) -> dict[str, Any]:
        return {
            "partner_id": self.value("partner"),
            "location_id": self.value("location"),
            "since": _day_start(self.value("paid_from")),
            "until": _day_after(self.value("paid_to")),
        }


def query_without_page(data: QueryDict) -> str:
    """The filters as a query string, for pager links that keep them."""
    kept = data.copy()
    kept.pop("page", None)
    return kept.urlencode()
