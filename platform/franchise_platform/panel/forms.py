"""Panel forms that are not about the network's data: API tokens, invitations, the amoCRM field
ids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as StrPromise
    from django_stubs_ext import StrOrPromise


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


class InviteForm(forms.Form):
    """A person to invite: e-mail, role, and for a partner user the one partner it sees."""

    email = forms.EmailField(label=_("E-mail"), max_length=254)
    full_name = forms.CharField(label=_("Имя"), max_length=200, required=False)
    role = forms.ChoiceField(
        label=_("Роль"),
        help_text=_(
            "Партнёр видит только сделки, платежи, возвраты, чеки и ведомости своего партнёра."
        ),
    )
    partner = forms.ChoiceField(label=_("Партнёр"), required=False)

    def __init__(
        self,
        data: Any,
        *,
        roles: Sequence[tuple[str, StrOrPromise]],
        partners: Sequence[tuple[str, str]],
    ) -> None:
        super().__init__(data)
        cast(forms.ChoiceField, self.fields["role"]).choices = roles
        cast(forms.ChoiceField, self.fields["partner"]).choices = [
            ("", _("— для роли «Партнёр» —")),
            *partners,
        ]
