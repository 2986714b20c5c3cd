"""Panel forms for partners, locations and settings.

They only parse what a person typed into Python values; the rules (INN digits, prepayment bounds,
required passwords) are the services' and come back as InputRejected, which `show_problems` puts
beside the fields they concern. Password inputs never render a value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from franchise_platform.inputs import MoneyFormField

from .errors import InputRejected
from .models import HashAlgorithm, LegalForm, Partner, PrepaymentMode, TaxSystem, Vat
from .services import ShopInput

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# Service problem fields that are named differently in a form.
_FORM_FIELD = {"prepayment.value": "prepayment_value", "prepayment.mode": "prepayment_mode"}


def show_problems(form: forms.Form, exc: InputRejected) -> None:
    for problem in exc.problems:
        name = _FORM_FIELD.get(problem.field, problem.field.removeprefix("robokassa."))
        form.add_error(name if name in form.fields else None, problem.message)


def _password(label: StrOrPromise) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


class PartnerForm(forms.Form):
    """Everything a franchisee needs; only five fields must be typed, the rest have defaults."""

    legal_form = forms.ChoiceField(
        label=_("Форма"), choices=LegalForm.choices, initial=LegalForm.IP, widget=forms.RadioSelect
    )
    name = forms.CharField(
        label=_("Название"),
        max_length=300,
        help_text=_("Как в договоре: «ИП Иванов Иван Иванович» или «ООО «Квест»»."),
    )
    inn = forms.CharField(
        label=_("ИНН"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    ogrn = forms.CharField(
        label=_("ОГРН / ОГРНИП"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    tax_system = forms.ChoiceField(
        label=_("Система налогообложения"), choices=TaxSystem.choices, initial=TaxSystem.USN_INCOME
    )
    vat = forms.ChoiceField(label=_("НДС"), choices=Vat.choices, initial=Vat.NONE)
    merchant_login = forms.CharField(
        label=_("Идентификатор магазина"),
        max_length=100,
        help_text=_(
            "Не логин от кабинета, а «Идентификатор магазина» из его технических настроек."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    password1 = _password(_("Пароль #1"))
    password2 = _password(_("Пароль #2"))
    hash_algorithm = forms.ChoiceField(
        label=_("Алгоритм хеша"),
        choices=HashAlgorithm.choices,
        initial=HashAlgorithm.MD5,
        help_text=_("Должен совпадать с выбранным в технических настройках магазина."),
    )
    fiscalization = forms.BooleanField(
        label=_("Фискализация (чеки 54-ФЗ через Robokassa)"), required=False
    )
    test_mode = forms.BooleanField(label=_("Тестовый режим"), required=False)
    test_password1 = _password(_("Тестовый пароль #1"))
    test_password2 = _password(_("Тестовый пароль #2"))
    password3 = _password(_("Пароль #3 (для возвратов)"))

    PARTNER_FIELDS = ("name", "legal_form", "inn", "ogrn", "tax_system", "vat")
    SHOP_FIELDS = (
        "merchant_login",
        "password1",
        "password2",
        "test_password1",
        "test_password2",
        "password3",
        "hash_algorithm",
        "test_mode",
        "fiscalization",
    )

    def __init__(self, *args: Any, partner: Partner | None = None, **kwargs: Any) -> None:
        if partner is not None:
            kwargs.setdefault("initial", self.initial_for(partner))
        super().__init__(*args, **kwargs)
        self.editing = partner is not None
        if self.editing:
            for name in ("password1", "password2", "test_password1", "test_password2", "password3"):
                self.fields[name].widget.attrs["placeholder"] = _("сохранён — оставьте пустым")
        else:
            # A new shop cannot work without them; on edit an empty field keeps the stored one.
            self.fields["password1"].required = True
            self.fields["password2"].required = True

    @classmethod
    def initial_for(cls, partner: Partner) -> dict[str, Any]:
        initial = {name: getattr(partner, name) for name in cls.PARTNER_FIELDS}
        account = getattr(partner, "provider_account", None)
        if account is not None:
            for name in ("merchant_login", "hash_algorithm", "test_mode", "fiscalization"):
                initial[name] = getattr(account, name)
        return initial

    def partner_values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.PARTNER_FIELDS}

    def shop_values(self) -> ShopInput:
        return {name: self.cleaned_data[name] for name in self.SHOP_FIELDS}  # type: ignore[return-value]


class LocationForm(forms.Form):
    name = forms.CharField(
        label=_("Название"),
        max_length=300,
        help_text=_("Так менеджеры увидят локацию в сделке amoCRM."),
    )
    partner = forms.ModelChoiceField(
        label=_("Партнёр"),
        queryset=Partner.objects.none(),
        empty_label=None,
        help_text=_("Юрлицо, на чей магазин Robokassa выставляются счета этой локации."),
    )
    address = forms.CharField(label=_("Адрес"), max_length=500, required=False)

    def __init__(self, *args: Any, partners: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["partner"].queryset = partners  # type: ignore[attr-defined]


class SettingsForm(forms.Form):
    prepayment_mode = forms.ChoiceField(
        label=_("Предоплата"), choices=PrepaymentMode.choices, widget=forms.RadioSelect
    )
    # The same money rules as the API (franchise_platform/inputs.py): finite, 2 places, 8 digits.
    prepayment_value = MoneyFormField(
        label=_("Размер предоплаты"),
        help_text=_("Процент от суммы сделки или сумма в рублях; округляется до целых рублей."),
    )
    invoice_ttl_hours = forms.IntegerField(
        label=_("Срок жизни счёта, часов"),
        help_text=_("От 1 до 720. По истечении ссылка сама выставит новый счёт."),
    )
    item_name = forms.CharField(
        label=_("Название позиции в чеке"),
        max_length=128,
        help_text=_("Можно использовать подстановку {location} — название локации."),
    )
