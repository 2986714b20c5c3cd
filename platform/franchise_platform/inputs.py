"""Values that come from outside (the APIs, the widget, the panel, providers' callbacks), parsed
once, the same way everywhere, into what the database and the money rules can take.

- Money (MoneyIn and its kin for the APIs, MoneyFormField for the panel): a finite decimal with at most two places and at most 8 integer digits (below 100 million
  rubles), as a string ("1500.00", "1500,5") or a JSON number; anything else (NaN, Infinity,
  1e999999, 0.001, 10^12, true) is refused with a Russian message, before any arithmetic.
- Times: ISO 8601; an aware value is moved to UTC here, so no offset PostgreSQL cannot take
  (+20:00) and no instant outside the calendar (0001-01-01T00:00+10:00) reaches a query.
- Identifiers: PostgreSQL's bigint holds what an integer id can be; a bigger one names nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from pydantic import AfterValidator, BeforeValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

BIGINT_MAX = 2**63 - 1
MONEY_INTEGER_DIGITS = 8
MONEY_PLACES = 2

_MONEY = re.compile(r"(?P<int>[0-9]+)(?:[.,](?P<frac>[0-9]*))?")


class MoneyInputError(ValueError):
    """An amount from outside that is not a money value we take; the message is for a person."""


def _not_a_number() -> MoneyInputError:
    return MoneyInputError(_("Сумма должна быть числом, например 1500.00."))


def _too_big() -> MoneyInputError:
    return MoneyInputError(_("Сумма слишком большая: не больше 99 999 999,99 ₽."))


def _money_text(raw: object) -> str:
    """`raw` written out in plain digits, refusing early what cannot be money (no huge strings)."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        raise _not_a_number()
    if isinstance(raw, int):
        if raw.bit_length() > 64:
            raise _too_big()
        return str(raw)
    if isinstance(raw, float):
        # A JSON number: 1e999999 arrives as inf, NaN as nan.
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise _not_a_number()
        raw = Decimal(repr(raw))
    if isinstance(raw, Decimal):
        if not raw.is_finite():
            raise _not_a_number()
        if raw and raw.adjusted() >= MONEY_INTEGER_DIGITS:
            raise _too_big()
        return format(raw, "f")
    return raw.strip()


def money_parse(raw: object) -> Decimal:
    """`raw` as a Decimal with two places, or MoneyInputError (see the module docstring)."""
    text = _money_text(raw)
    match = _MONEY.fullmatch(text)
    if match is None:
        if text.startswith("-") and _MONEY.fullmatch(text[1:]):
            raise MoneyInputError(_("Сумма не может быть отрицательной."))
        raise _not_a_number()
    integer, fraction = match["int"].lstrip("0") or "0", (match["frac"] or "").rstrip("0")
    if len(fraction) > MONEY_PLACES:
        raise MoneyInputError(_("В сумме не больше двух знаков после запятой."))
    if len(integer) > MONEY_INTEGER_DIGITS:
        raise _too_big()
    return Decimal(f"{integer}.{fraction or '0'}").quantize(Decimal("0.01"))


def _money_validator(code: str, *, blank_is_none: bool = False) -> Callable[[Any], Any]:
    """A validator whose refusal answers 422 with `code` (api_errors.py reads it from the error
    type). With `blank_is_none`, an absent, null or empty value is None."""

    def validate(value: Any) -> Decimal | None:
        if blank_is_none and value in (None, ""):
            return None
        try:
            return money_parse(value)
        except MoneyInputError as exc:
            raise PydanticCustomError(f"code:{code}", str(exc)) from None

    return validate


_MONEY_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": r"^[0-9]{1,8}([.,][0-9]{1,2})?$",
    "examples": ["1500.00"],
    "description": "Rubles: at most 8 integer digits and 2 places.",
}

# Input-schema types for money: a decimal string in the OpenAPI, a Decimal in the endpoint.
MoneyIn = Annotated[
    Decimal, BeforeValidator(_money_validator("invalid_amount")), WithJsonSchema(_MONEY_SCHEMA)
]
PrepaymentAmountIn = Annotated[
    Decimal, BeforeValidator(_money_validator("invalid_prepayment")), WithJsonSchema(_MONEY_SCHEMA)
]
OptionalPrepaymentAmountIn = Annotated[
    Decimal | None,
    BeforeValidator(_money_validator("invalid_prepayment", blank_is_none=True)),
    WithJsonSchema({"anyOf": [_MONEY_SCHEMA, {"type": "null"}]}),
]


class MoneyFormField(forms.CharField):
    """A panel form's money field with the same rules as the APIs (money_parse); "1500,50" too."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal"}))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        try:
            return money_parse(text)
        except MoneyInputError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None

    def prepare_value(self, value: Any) -> Any:
        # Shown as a person types it in Russian: 1500,50.
        if isinstance(value, Decimal):
            return f"{value:.2f}".replace(".", ",")
        return value


def datetime_to_utc(value: datetime) -> datetime:
    """A parsed time as an aware UTC datetime (a naive one is read in the current time zone);
    ValueError with a Russian message when the instant falls outside the calendar."""
    try:
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        return value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise ValueError(_("Время вне допустимого диапазона.")) from exc


# A time in an input schema (query or body): parsed by pydantic as before, then moved to UTC, so
# the query carries +00:00 whatever offset was sent.
ApiDateTime = Annotated[datetime, AfterValidator(datetime_to_utc)]


def db_id_or_none(value: int | None) -> int | None:
    """`value` when a bigint column can hold it as a positive id, else None (it names nothing)."""
    if value is None or not 0 < value <= BIGINT_MAX:
        return None
    return value


def db_id_parse(raw: str | None) -> int | None:
    """A positive integer id written in ASCII digits that fits a bigint, or None. Never raises
    (a str.isdigit() check also passes '²' or Arabic-Indic digits, and int('²') raises)."""
    if raw is None or not re.fullmatch(r"[0-9]{1,19}", raw):
        return None
    return db_id_or_none(int(raw))
