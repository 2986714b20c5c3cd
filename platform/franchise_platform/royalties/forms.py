"""The panel's royalty rule form."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from franchise_platform.inputs import MoneyFormField

from .models import RuleKind
from .rules import RuleInvalid, RuleSpec, tiers_parse


class PercentField(forms.DecimalField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal"}))
        super().__init__(min_value=Decimal(0), max_value=Decimal(100), decimal_places=2, **kwargs)

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        if isinstance(value, str):
            value = value.replace(",", ".").strip()
        return super().to_python(value)


class RoyaltyRuleForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Вид правила"), choices=RuleKind.choices, widget=forms.RadioSelect
    )
    percent = PercentField(label=_("Процент от оборота"), required=False)
    fixed_amount = MoneyFormField(label=_("Фиксированная сумма в месяц, ₽"), required=False)
    tiers = forms.CharField(
        label=_("Ступени шкалы"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "0: 6\n500000: 4"}),
        help_text=_(
            "По строке на ступень: «порог: процент». Часть оборота от порога до следующего "
            "порога облагается процентом ступени."
        ),
    )
    minimum = MoneyFormField(
        label=_("Минимум в месяц, ₽"),
        required=False,
        help_text=_("Для процента и шкалы: меньше этой суммы месяц не стоит."),
    )
    email = forms.EmailField(
        label=_("E-mail партнёра для ведомостей"), required=False, max_length=254
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind == RuleKind.PERCENT and data.get("percent") is None:
            self.add_error("percent", _("Укажите процент."))
        if kind == RuleKind.FIXED and data.get("fixed_amount") is None:
            self.add_error("fixed_amount", _("Укажите сумму."))
        if kind == RuleKind.TIERS:
            try:
                data["parsed_tiers"] = tiers_parse(data.get("tiers") or "")
            except RuleInvalid as exc:
                self.add_error("tiers", str(exc))
        return data

    def spec(self) -> RuleSpec:
        data = self.cleaned_data
        kind = data["kind"]
        return RuleSpec(
            kind=kind,
            percent=data.get("percent") if kind == RuleKind.PERCENT else None,
            fixed_amount=data.get("fixed_amount") if kind == RuleKind.FIXED else None,
            minimum=(data.get("minimum") or None) if kind != RuleKind.FIXED else None,
            tiers=data.get("parsed_tiers", ()) if kind == RuleKind.TIERS else (),
        )
