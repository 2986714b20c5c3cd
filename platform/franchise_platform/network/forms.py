"""Panel forms for partners, locations and settings.

They only parse what a person typed into Python values; the rules (INN digits, prepayment bounds,
required passwords) are the services' and come back as InputRejected, which `show_problems` puts
beside the fields they concern. The shop's fields come from the providers' account declarations;
secret inputs never render a value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from billing_providers import registry
from billing_providers.base import AccountField
from franchise_platform.inputs import MoneyFormField

from .errors import InputRejected
from .models import LegalForm, Partner, PrepaymentMode, ProviderAccount, TaxSystem, Vat
from .services import AccountInput, declarations

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# Service problem fields that are named differently in a form.
_FORM_FIELD = {"prepayment.value": "prepayment_value", "prepayment.mode": "prepayment_mode"}
DECLARED_PREFIX = "provider_account.values."
FLAG_PREFIX = "provider_account."


def show_problems(form: forms.Form, exc: InputRejected) -> None:
    provider = getattr(form, "cleaned_data", {}).get("provider") or registry.DEFAULT_PROVIDER
    block = f"{declarations.block_name(provider)}."
    for problem in exc.problems:
        name = _FORM_FIELD.get(problem.field, problem.field)
        if name == "provider_account.provider":
            name = "provider"
        else:
            for prefix in (DECLARED_PREFIX, FLAG_PREFIX, block):
                if name.startswith(prefix):
                    name = declared_field_name(provider, name.removeprefix(prefix))
                    break
        form.add_error(name if name in form.fields else None, problem.message)


def declared_field_name(provider: str, name: str) -> str:
    """The form field of a provider's declared setting: ``yookassa__shop_id``; the default
    provider's keep their bare names (``merchant_login``), as the form had them before the
    choice of provider existed."""
    if provider == registry.DEFAULT_PROVIDER and name not in PartnerForm.PARTNER_FIELDS:
        return name
    return f"{provider}__{name}"


def declared_providers() -> list[tuple[str, str, tuple[AccountField, ...]]]:
    """(slug, label, fields) of the providers that declare their account fields."""
    return [
        (cls.slug, registry.provider_label(cls.slug), cls.account_fields)
        for cls in registry.declaring_providers()
    ]


def _password(label: StrOrPromise) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


def _declared_field(spec: AccountField) -> forms.Field:
    """A form field for one declared setting; the rules are the services' (from the same
    declaration), so every field is optional here."""
    label = declarations.declared_label(spec)
    field: forms.Field
    if spec.target == "flag":
        field = forms.BooleanField(label=label, required=False)
    elif spec.target == "choice":
        field = forms.ChoiceField(
            label=label, choices=list(spec.choices), initial=spec.default, required=False
        )
    elif spec.secret:
        field = _password(label)
    else:
        field = forms.CharField(
            label=label,
            required=False,
            max_length=spec.max_length,
            strip=spec.strip,
            widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        )
    field.help_text = declarations.declared_help(spec)
    return field


class PartnerForm(forms.Form):
    """Everything a franchisee needs; only five fields must be typed, the rest have defaults.
    The shop's fields are each provider's declared ones (one section per provider)."""

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
        choices=[],
        required=False,  # absent: the default provider, as before the choice existed
        widget=forms.RadioSelect,
        help_text=_("Где у партнёра магазин: через него покупатели оплачивают ссылки."),
    )

    PARTNER_FIELDS = ("name", "legal_form", "inn", "ogrn", "tax_system", "vat")

    def __init__(self, *args: Any, partner: Partner | None = None, **kwargs: Any) -> None:
        if partner is not None:
            kwargs.setdefault("initial", self.initial_for(partner))
        super().__init__(*args, **kwargs)
        self.editing = partner is not None
        self.declared = declared_providers()
        provider_field = cast(forms.ChoiceField, self.fields["provider"])
        provider_field.choices = [(slug, label) for slug, label, _fields in self.declared]
        provider_field.initial = registry.DEFAULT_PROVIDER
        account = getattr(partner, "provider_account", None) if partner is not None else None
        stored = _stored_secrets(account)
        for slug, _label, fields in self.declared:
            for spec in fields:
                if not spec.entered or "keys" not in spec.modes:
                    continue
                field = _declared_field(spec)
                at_it = account is not None and account.provider == slug
                if spec.secret and at_it and spec.name in stored:
                    field.widget.attrs["placeholder"] = _("сохранён — оставьте пустым")
                self.fields[declared_field_name(slug, spec.name)] = field

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

    def chosen_provider(self) -> str:
        return str(self.cleaned_data.get("provider") or registry.DEFAULT_PROVIDER)

    def account_values(self) -> AccountInput:
        """The chosen provider's settings (`provider_account` of the services)."""
        slug = self.chosen_provider()
        values: dict[str, str] = {}
        data: dict[str, Any] = {"provider": slug, "values": values}
        for spec in declarations.declared_fields(slug):
            name = declared_field_name(slug, spec.name)
            if name not in self.cleaned_data:
                continue
            value = self.cleaned_data[name]
            if spec.target == "flag":
                data[spec.name] = bool(value)
            elif value:
                values[spec.name] = value
        return cast(AccountInput, data)

    @classmethod
    def initial_for(cls, partner: Partner) -> dict[str, Any]:
        initial: dict[str, Any] = {name: getattr(partner, name) for name in cls.PARTNER_FIELDS}
        account = getattr(partner, "provider_account", None)
        if account is not None:
            initial["provider"] = account.provider
            for spec in declarations.declared_fields(account.provider):
                name = declared_field_name(account.provider, spec.name)
                if spec.target == "login":
                    initial[name] = account.merchant_login
                elif spec.target == "flag" or (spec.column and not spec.secret):
                    initial[name] = getattr(account, spec.column or spec.name)
        return initial

    def partner_values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.PARTNER_FIELDS}


def _stored_secrets(account: ProviderAccount | None) -> set[str]:
    if account is None:
        return set()
    sealed = account.provider_secrets if isinstance(account.provider_secrets, dict) else {}
    names = {name for name, value in sealed.items() if value}
    for spec in declarations.declared_fields(account.provider):
        if spec.secret and spec.column and getattr(account, spec.column, None):
            names.add(spec.name)
    return names


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
        help_text=_("Юрлицо, на чей магазин выставляются счета этой локации."),
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
