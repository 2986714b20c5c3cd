"""The landing's sign-up form. Each field is checked by the same function the service uses, so the
form shows every problem beside its field at once and the service then finds nothing new."""

from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from franchise_platform.inputs import BIGINT_MAX

from .crm_choice import DEFAULT_CRM, crm_choice_validate, crm_choices
from .errors import NetworkError
from .services import network_name_validate, owner_email_validate, owner_password_validate
from .slugs import slug_ensure_available

# Which form field a service error code belongs to.
ERROR_FIELD = {
    "invalid_name": "network_name",
    "invalid_slug": "slug",
    "reserved_slug": "slug",
    "lookalike_slug": "slug",
    "slug_taken": "slug",
    "invalid_email": "owner_email",
    "weak_password": "owner_password",
    "claim_code_invalid": "claim_code",
    "claim_rate_limited": "claim_code",
    "crm_mismatch": "crm",
    "unknown_crm": "crm",
}


def _checked(check: Any, value: Any) -> Any:
    try:
        return check(value)
    except NetworkError as exc:
        raise forms.ValidationError(exc.detail, code=exc.code) from exc


class SignupForm(forms.Form):
    """The claim code is checked by the service (tenants/signup.py), which counts every try."""

    network_name = forms.CharField(
        label=_("Название сети"),
        max_length=200,
        error_messages={"required": _("Укажите название сети (до 200 символов).")},
        widget=forms.TextInput(attrs={"autocomplete": "organization", "autofocus": True}),
    )
    slug = forms.CharField(
        label=_("Адрес панели"),
        max_length=40,
        error_messages={"required": _("Придумайте адрес панели.")},
        help_text=_("Латинские буквы, цифры и дефис. Изменить потом нельзя."),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "none",
                "spellcheck": "false",
                "inputmode": "url",
            }
        ),
    )
    owner_email = forms.CharField(
        label=_("E-mail владельца"),
        max_length=254,
        error_messages={"required": _("Проверьте e-mail владельца.")},
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}),
    )
    owner_password = forms.CharField(
        label=_("Пароль"),
        strip=False,
        error_messages={"required": _("Придумайте пароль.")},
        help_text=_("Не короче 10 символов, не только цифры и не из списка популярных."),
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    # Not required: a form posted without it (an older page, a script) gets the claim code's
    # CRM or amoCRM, as the API does.
    crm = forms.ChoiceField(
        label=_("CRM сети"),
        initial=DEFAULT_CRM,
        required=False,
        error_messages={"invalid_choice": _("Выберите CRM из списка.")},
        help_text=_("Её можно сменить в панели, пока ни один аккаунт CRM не подключён."),
        widget=forms.RadioSelect(attrs={"class": "choice-crm"}),
    )
    claim_code = forms.CharField(
        label=_("Код привязки"),
        max_length=12,
        required=False,
        help_text=_(
            "Его показывает виджет amoCRM в карточке сделки или приложение в Битрикс24 после "
            "установки; действует 30 минут."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "class": "input-claim"}
        ),
    )
    amocrm_account = forms.IntegerField(
        required=False, min_value=1, max_value=BIGINT_MAX, widget=forms.HiddenInput
    )
    # A honeypot: hidden from people (off-screen, out of the tab order), filled by naive bots.
    website = forms.CharField(
        required=False,
        label=_("Сайт"),
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        crm = self.fields["crm"]
        assert isinstance(crm, forms.ChoiceField)
        crm.choices = crm_choices()
        slug = self.fields["slug"]
        slug.widget.attrs.update(
            {
                "hx-get": reverse("public:check_slug"),
                # On first display (a slug pre-filled from amoCRM) the check runs at once; after a
                # submit the field's own error already says what is wrong.
                "hx-trigger": ("" if self.is_bound else "load, ") + "input changed delay:300ms",
                "hx-target": "#slug-hint",
                "hx-sync": "this:replace",
            }
        )

    def clean_network_name(self) -> str:
        return str(_checked(network_name_validate, self.cleaned_data["network_name"]))

    def clean_slug(self) -> str:
        return str(_checked(slug_ensure_available, self.cleaned_data["slug"]))

    def clean_owner_email(self) -> str:
        return str(_checked(owner_email_validate, self.cleaned_data["owner_email"]))

    def clean_crm(self) -> str | None:
        value = self.cleaned_data["crm"]
        return str(_checked(crm_choice_validate, value)) if value else None

    def clean_owner_password(self) -> str:
        return str(_checked(owner_password_validate, self.cleaned_data["owner_password"]))

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get("website"))

    def show_error(self, exc: NetworkError) -> None:
        """A service refusal that the field checks could not foresee (a race, the rate limit)."""
        field = ERROR_FIELD.get(exc.code)
        self.add_error(field if field in self.fields else None, exc.detail)
