"""Forms of the operator console."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class SuspendForm(forms.Form):
    reason = forms.CharField(
        label=_("Причина"),
        max_length=300,
        required=False,
        help_text=_("Видна в журнале операторов."),
    )


class DeleteForm(forms.Form):
    confirmation = forms.CharField(
        label=_("Адрес сети"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
