"""Panel forms for partners, locations and settings.

They only parse what a person typed into Python values; the rules (INN digits, prepayment bounds,
required passwords) are the services' and come back as InputRejected, which `show_problems` puts
beside the fields they concern. Password inputs never render a value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from billing_providers import registry
from billing_providers.base import AccountField
from franchise_platform.inputs import MoneyFormField

from .errors import InputRejected
from .models import HashAlgorithm, LegalForm, Partner, PrepaymentMode, TaxSystem, Vat
from .services import AccountInput, ShopInput
from .services.partners import declared_label

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# Service problem fields that are named differently in a form.
_FORM_FIELD = {"prepayment.value": "prepayment_value", "prepayment.mode": "prepayment_mode"}


def show_problems(form: forms.Form, exc: InputRejected) -> None:
    provider = getattr(form, "cleaned_data", {}).get("provider", "")
    for problem in exc.problems:
        name = _FORM_FIELD.get(problem.field, problem.field.removeprefix("robokassa."))
        if name.startswith(DECLARED_PREFIX):
            name = declared_field_name(provider, name.removeprefix(DECLARED_PREFIX))
        elif name == "provider_account.provider":
            name = "provider"
        form.add_error(name if name in form.fields else None, problem.message)


DECLARED_PREFIX = "provider_account.values."


def declared_field_name(provider: str, name: str) -> str:
    """The form field of a provider's declared setting (``yookassa__shop_id``)."""
    return f"{provider}__{name}"


def declared_providers() -> list[tuple[str, str, tuple[AccountField, ...]]]:
    """(slug, label, fields) of the providers that declare their account fields."""
    out = []
    for slug, label in registry.provider_choices():
        fields = registry.get_provider_class(slug).account_fields
        if fields:
            out.append((slug, label, fields))
    return out


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
    provider = forms.ChoiceField(
        label=_("Платёжный провайдер"),
        choices=[("robokassa", "Robokassa")],
        initial="robokassa",
        required=False,  # absent: Robokassa, as before the choice existed
        widget=forms.RadioSelect,
        help_text=_("Где у партнёра магазин: через него покупатели оплачивают ссылки."),
    )
    merchant_login = forms.CharField(
        label=_("Идентификатор магазина"),
        max_length=100,
        required=False,
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
        required=False,  # Robokassa's only; empty is MD5
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
        self.declared = declared_providers()
        provider_field = cast(forms.ChoiceField, self.fields["provider"])
        provider_field.choices = [("robokassa", "Robokassa")] + [
            (slug, label) for slug, label, _fields in self.declared
        ]
        current = self.initial.get("provider", "robokassa")
        for slug, _label, fields in self.declared:
            for spec in fields:
                if not spec.entered or spec.target == "flag" or "keys" not in spec.modes:
                    continue
                label = declared_label(spec)
                field: forms.CharField = (
                    _password(label)
                    if spec.secret
                    else forms.CharField(
                        label=label,
                        required=False,
                        max_length=spec.max_length,
                        widget=forms.TextInput(
                            attrs={"autocomplete": "off", "spellcheck": "false"}
                        ),
                    )
                )
                field.help_text = spec.help_en if label == spec.label_en else spec.help_ru
                if spec.secret and self.editing and current == slug:
                    field.widget.attrs["placeholder"] = _("сохранён — оставьте пустым")
                self.fields[declared_field_name(slug, spec.name)] = field
        if self.editing:
            for name in ("password1", "password2", "test_password1", "test_password2", "password3"):
                self.fields[name].widget.attrs["placeholder"] = _("сохранён — оставьте пустым")
        # Robokassa's required fields are checked by the services (only when Robokassa is
        # chosen); on edit an empty password keeps the stored one.

    def declared_sections(self) -> list[dict[str, Any]]:
        """The declared providers' field groups, for the template."""
        return [
            {
                "slug": slug,
                "label": label,
                "fields": [
                    self[declared_field_name(slug, spec.name)]
                    for spec in fields
                    if declared_field_name(slug, spec.name) in self.fields
                ],
            }
            for slug, label, fields in self.declared
        ]

    def account_values(self) -> AccountInput:
        """The chosen declared provider's settings (`provider_account` of the services)."""
        slug = self.cleaned_data["provider"]
        prefix = declared_field_name(slug, "")
        values = {
            name.removeprefix(prefix): value
            for name, value in self.cleaned_data.items()
            if name.startswith(prefix) and value
        }
        return {
            "provider": slug,
            "values": values,
            "test_mode": self.cleaned_data["test_mode"],
            "fiscalization": self.cleaned_data["fiscalization"],
        }

    def robokassa_chosen(self) -> bool:
        return (self.cleaned_data.get("provider") or "robokassa") == "robokassa"

    @classmethod
    def initial_for(cls, partner: Partner) -> dict[str, Any]:
        initial = {name: getattr(partner, name) for name in cls.PARTNER_FIELDS}
        account = getattr(partner, "provider_account", None)
        if account is not None:
            for name in ("test_mode", "fiscalization"):
                initial[name] = getattr(account, name)
            initial["provider"] = account.provider
            declared = registry.get_provider_class(account.provider).account_fields
            login = next((spec for spec in declared if spec.target == "login"), None)
            if login is not None:
                initial[declared_field_name(account.provider, login.name)] = account.merchant_login
            else:
                initial["merchant_login"] = account.merchant_login
                initial["hash_algorithm"] = account.hash_algorithm
        return initial

    def partner_values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.PARTNER_FIELDS}

    def shop_values(self) -> ShopInput:
        values = {name: self.cleaned_data[name] for name in self.SHOP_FIELDS}
        values["hash_algorithm"] = values["hash_algorithm"] or HashAlgorithm.MD5
        return values  # type: ignore[return-value]


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
