"""Forms of the login flow and the second-factor setup. Labels are Russian source strings."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    """Django's form (it passes the request to authenticate(), which django-axes needs)."""

    error_messages = {
        "invalid_login": _("Неверный e-mail или пароль."),
        "inactive": _("Эта учётная запись отключена."),
    }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["username"].label = _("E-mail")
        self.fields["username"].widget = forms.EmailInput(
            attrs={"autofocus": True, "autocomplete": "username", "inputmode": "email"}
        )
        self.fields["password"].label = _("Пароль")


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Код из приложения"),
        min_length=6,
        max_length=8,
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": "[0-9]*",
                "class": "input-code",
            }
        ),
    )

    def clean_code(self) -> str:
        code = "".join(str(self.cleaned_data["code"]).split())
        if not code.isdigit():
            raise forms.ValidationError(_("Код состоит из цифр."))
        return code
