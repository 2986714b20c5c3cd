"""The buyer's contact for a 54-ФЗ receipt the provider forms and sends itself (a receipt that
goes with the payment request, so the contact must be known before the payment is created).

The provider says which contacts it takes (``BillingProvider.buyer_contact_kinds``); the pay page
asks the buyer only when the deal knows none of them: one given on this deal's pay page before,
or the e-mail or phone a payment of the deal carried. What the buyer types is hostile input: it
is checked here, stored on the deal once, and never shown to anyone else.
"""

from __future__ import annotations

import re
import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from .models import Deal, Payment

EMAIL_MAX_LENGTH = 254
_PHONE_TYPED = re.compile(r"[0-9+()\-\s.]{1,32}")


def phone_normalise(value: str) -> str:
    """A typed phone as a receipt wants it (``7XXXXXXXXXX``): its digits, a Russian number's
    leading 8 (or missing 7) made 7; "" when that is not 11 to 15 digits or the text holds
    anything but digits, spaces, ``+``, ``-``, ``.`` and brackets."""
    text = value.strip()
    if not _PHONE_TYPED.fullmatch(text):
        return ""
    digits = "".join(ch for ch in text if ch in "0123456789")
    if len(digits) == 11 and digits[0] == "8":
        digits = "7" + digits[1:]
    elif len(digits) == 10 and digits[0] == "9":
        digits = "7" + digits
    return digits if 11 <= len(digits) <= 15 else ""


def email_normalise(value: str) -> str:
    """A typed e-mail, trimmed, when it is one address of at most 254 characters; else ""."""
    text = value.strip()
    if not text or len(text) > EMAIL_MAX_LENGTH or any(ch in text for ch in "\r\n\t\x00<>\"'"):
        return ""
    try:
        validate_email(text)
    except ValidationError:
        return ""
    return text


def deal_contact(deal: Deal, kinds: tuple[str, ...]) -> tuple[str, str]:
    """(e-mail, phone) the deal already knows, limited to ``kinds``: the one given on the pay
    page, else the newest payment's. Either may be ""."""
    email, phone = deal.buyer_email, deal.buyer_phone
    if not (email or phone):
        found = (
            Payment.objects.filter(deal=deal)
            .exclude(buyer_email="", buyer_phone="")
            .order_by("-paid_at")
            .values_list("buyer_email", "buyer_phone")
            .first()
        )
        if found is not None:
            email, phone = found
    return (email if "email" in kinds else "", phone if "phone" in kinds else "")


def deal_contact_store(*, deal_id: uuid.UUID | str, email: str, phone: str) -> None:
    """Keep the buyer's contact on the deal; a deal that has one already keeps it (a second
    visitor with the link cannot redirect the receipts)."""
    Deal.objects.filter(pk=deal_id, buyer_email="", buyer_phone="").update(
        buyer_email=email, buyer_phone=phone
    )


def deal_contact_forget(*, deal_id: uuid.UUID | str, email: str, phone: str) -> None:
    """Drop a contact the provider refused, so the pay page asks again."""
    Deal.objects.filter(pk=deal_id, buyer_email=email, buyer_phone=phone).update(
        buyer_email="", buyer_phone=""
    )


class BuyerContactForm(forms.Form):
    """The pay page's question: an e-mail, or (when the provider takes one) a phone."""

    email = forms.CharField(
        label=_("Электронная почта"),
        required=False,
        max_length=EMAIL_MAX_LENGTH,
        strip=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}),
    )
    phone = forms.CharField(
        label=_("Телефон"),
        required=False,
        max_length=32,
        strip=False,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "type": "tel"}),
    )

    def __init__(self, *args: object, kinds: tuple[str, ...], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.kinds = kinds
        if "phone" not in kinds:
            del self.fields["phone"]
        if "email" not in kinds:
            del self.fields["email"]

    def clean_email(self) -> str:
        raw = str(self.cleaned_data.get("email") or "")
        if not raw.strip():
            return ""
        email = email_normalise(raw)
        if not email:
            raise ValidationError(
                _("Похоже, в адресе ошибка. Пример: name@example.ru"), code="bad_email"
            )
        return email

    def clean_phone(self) -> str:
        raw = str(self.cleaned_data.get("phone") or "")
        if not raw.strip():
            return ""
        phone = phone_normalise(raw)
        if not phone:
            raise ValidationError(
                _("Укажите номер целиком, например +7 900 123-45-67."), code="bad_phone"
            )
        return phone

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        if not self.errors and not (cleaned.get("email") or cleaned.get("phone")):
            message = (
                _("Укажите электронную почту или телефон: туда придёт чек.")
                if "phone" in self.kinds
                else _("Укажите электронную почту: туда придёт чек.")
            )
            raise ValidationError(message, code="contact_required")
        return cleaned
