"""Forms of the login flow and the second-factor setup. Labels are Russian source strings."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from franchise_platform.request_context import client_ip

from .login_throttle import login_attempt_begin, login_attempt_succeeded, wait_text


class LoginForm(AuthenticationForm):
    """Django's form, with password guessing slowed down (login_throttle.py) for the network panel
    and the operator console alike. `retry_after` > 0: refused for too many failures."""

    error_messages = {
        "invalid_login": _("Неверный e-mail или пароль."),
        "inactive": _("Эта учётная запись отключена."),
    }
    retry_after = 0

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not username or not password or self.request is None:
            return super().clean()
        attempt = login_attempt_begin(username=username, ip=client_ip(self.request))
        if not attempt.allowed:
            self._refuse(attempt.wait_seconds)
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            if attempt.wait_seconds:  # this failure started a wait: say so at once
                self._refuse(attempt.wait_seconds)
            raise
        login_attempt_succeeded(attempt=attempt)
        return cleaned

    def _refuse(self, seconds: int) -> None:
        self.retry_after = seconds
        raise forms.ValidationError(
            _("Слишком много неудачных попыток входа. Попробуйте снова через %(wait)s"),
            code="throttled",
            params={"wait": wait_text(seconds)},
        )

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
        # ASCII digits only: "²²²²²²".isdigit() is true, and int() of it raises.
        if not (code.isascii() and code.isdigit()):
            raise forms.ValidationError(_("Код состоит из цифр."))
        return code
