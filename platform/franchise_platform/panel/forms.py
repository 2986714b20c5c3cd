"""Panel forms that are not about the network's data: API tokens."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Название токена"),
        max_length=100,
        help_text=_("Для чего он: например, «Выгрузка в 1С». Видно только в этом списке."),
    )
