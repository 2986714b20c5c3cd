"""Panel forms that are not about the network's data: API tokens, the amoCRM field ids."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as StrPromise


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Название токена"),
        max_length=100,
        help_text=_("Для чего он: например, «Выгрузка в 1С». Видно только в этом списке."),
    )


def _field_id(label: StrPromise) -> forms.IntegerField:
    return forms.IntegerField(
        label=label, min_value=1, max_value=2**63 - 1, widget=forms.NumberInput(attrs={"step": 1})
    )


class CrmFieldMapForm(forms.Form):
    """Existing amoCRM lead fields (their numeric ids) to use instead of the platform's own."""

    location_field_id = _field_id(_("Локация (список)"))
    prepayment_url_field_id = _field_id(_("Ссылка на предоплату (ссылка)"))
    full_url_field_id = _field_id(_("Ссылка на полную оплату (ссылка)"))
    paid_sum_field_id = _field_id(_("Оплачено (число)"))
    status_field_id = _field_id(_("Статус оплаты (список)"))
    # Optional and never created by the platform: the owner's own date field, if any.
    service_date_field_id = forms.IntegerField(
        label=_("Дата услуги (дата или дата и время, необязательно)"),
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        widget=forms.NumberInput(attrs={"step": 1}),
    )
