"""Business rules for partners, shops, locations and settings: pure checks returning Problems.

Services call these before writing; the API and the panel never re-implement them, so a rule
changed here changes everywhere at once.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from string import Formatter

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from .errors import Problem
from .models import INVOICE_NUMBER_MAX, LegalForm, PrepaymentMode, TaxSystem, Vat
from .validators import validate_inn, validate_ogrn

NAME_MAX = 300
ADDRESS_MAX = 500
ITEM_NAME_MAX = 128
ITEM_NAME_PLACEHOLDER = "location"
TTL_HOURS_MIN, TTL_HOURS_MAX = 1, 720
# The column holds 12 digits with 2 decimals; a billion rubles is far beyond any real prepayment.
PREPAYMENT_FIXED_LIMIT = Decimal(1_000_000_000)


# From this day the general VAT rate is 22 % (425-ФЗ); 20 % is no rate for a new sale.
VAT22_FROM = date(2026, 1, 1)
# Which VAT a receipt may carry under each tax system (shared/specs/fiscal.md §6.3): 5 % and 7 %
# exist only under УСН, ПСН pays no VAT, none is the exempt case everywhere.
VAT_BY_TAX_SYSTEM: dict[str, tuple[str, ...]] = {
    TaxSystem.OSN: (Vat.NONE, Vat.VAT0, Vat.VAT10, Vat.VAT22),
    TaxSystem.USN_INCOME: (Vat.NONE, Vat.VAT0, Vat.VAT5, Vat.VAT7, Vat.VAT10, Vat.VAT22),
    TaxSystem.USN_INCOME_OUTCOME: (Vat.NONE, Vat.VAT0, Vat.VAT5, Vat.VAT7, Vat.VAT10, Vat.VAT22),
    TaxSystem.ESN: (Vat.NONE, Vat.VAT0, Vat.VAT10, Vat.VAT22),
    TaxSystem.PATENT: (Vat.NONE,),
}


def allowed_vat(*, tax_system: str, on: date | None = None) -> tuple[str, ...]:
    """The VAT values a partner on `tax_system` may use for a sale on `on` (today by default)."""
    allowed = VAT_BY_TAX_SYSTEM.get(tax_system, ())
    if (on or timezone.localdate()) < VAT22_FROM:
        allowed = tuple(Vat.VAT20 if v == Vat.VAT22 else v for v in allowed)
    return allowed


def vat_problem(*, tax_system: str, vat: str, on: date | None = None) -> Problem | None:
    """Why `vat` cannot go on a receipt of a partner on `tax_system` on that day, or None."""
    if tax_system not in TaxSystem.values or vat not in Vat.values:
        return None  # reported by the choice checks
    allowed = allowed_vat(tax_system=tax_system, on=on)
    if vat in allowed:
        return None
    names = ", ".join(str(Vat(v).label) for v in allowed)
    if vat == Vat.VAT20:
        return Problem(
            "vat",
            _(
                "С 1 января 2026 года ставка НДС 20%% не применяется: основная ставка — 22%%. "
                "Для «%(system)s» допустимы: %(allowed)s."
            )
            % {"system": TaxSystem(tax_system).label, "allowed": names},
            "vat_rate_retired",
        )
    return Problem(
        "vat",
        _("«%(vat)s» недопустим для системы налогообложения «%(system)s»; допустимы: %(allowed)s.")
        % {"vat": Vat(vat).label, "system": TaxSystem(tax_system).label, "allowed": names},
        "vat_not_allowed",
    )


def digits_only(value: str) -> str:
    """People paste registration numbers with spaces or dashes; only the digits matter."""
    return "".join(value.split()).replace("-", "")


def one_line(value: str) -> str:
    return " ".join(value.split())


def _choice(field: str, value: str, choices: type[LegalForm | TaxSystem | Vat]) -> list[Problem]:
    if value in choices.values:
        return []
    allowed = ", ".join(choices.values)
    return [
        Problem(
            field,
            _("Недопустимое значение «%(v)s»; допустимы: %(a)s.") % {"v": value, "a": allowed},
            "invalid_choice",
        )
    ]


def partner_problems(
    *,
    name: str,
    legal_form: str,
    inn: str,
    ogrn: str,
    tax_system: str,
    vat: str,
    check_vat_pair: bool = True,
) -> list[Problem]:
    """`check_vat_pair`: False for an update that leaves the tax settings alone, so a partner whose
    pair predates a rule can still be renamed or deactivated (its invoices refuse the rate)."""
    problems: list[Problem] = []
    if not name:
        problems.append(Problem("name", _("Укажите название партнёра."), "name_required"))
    elif len(name) > NAME_MAX:
        problems.append(
            Problem(
                "name", _("Название длиннее %(n)s символов.") % {"n": NAME_MAX}, "name_too_long"
            )
        )
    form_problems = _choice("legal_form", legal_form, LegalForm)
    problems += form_problems
    if not form_problems:
        # INN and OGRN lengths depend on the legal form, so they are checked only against a valid one.
        try:
            validate_inn(inn, legal_form)
        except ValidationError as exc:
            problems.append(Problem("inn", exc.messages[0], "invalid_inn"))
        try:
            validate_ogrn(ogrn, legal_form)
        except ValidationError as exc:
            problems.append(Problem("ogrn", exc.messages[0], "invalid_ogrn"))
    problems += _choice("tax_system", tax_system, TaxSystem)
    problems += _choice("vat", vat, Vat)
    problem = vat_problem(tax_system=tax_system, vat=vat) if check_vat_pair else None
    if problem is not None:
        problems.append(problem)
    return problems


# Room for at least a hundred million invoices above the start, all below Robokassa's 2^31-1.
INVOICE_NUMBER_START_MAX = INVOICE_NUMBER_MAX - 100_000_000


def invoice_number_start_problem(value: object) -> Problem | None:
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and 1 <= value <= INVOICE_NUMBER_START_MAX
    ):
        return None
    return Problem(
        "invoice_number_start",  # the services put it under the provider's block
        _("Первый номер счёта — целое число от 1 до %(max)s, выше номеров заказов вашего сайта.")
        % {"max": INVOICE_NUMBER_START_MAX},
        "invalid_invoice_number_start",
    )


def location_problems(*, name: str, address: str, name_taken: bool) -> list[Problem]:
    problems: list[Problem] = []
    if not name:
        problems.append(Problem("name", _("Укажите название локации."), "name_required"))
    elif len(name) > NAME_MAX:
        problems.append(
            Problem(
                "name", _("Название длиннее %(n)s символов.") % {"n": NAME_MAX}, "name_too_long"
            )
        )
    elif name_taken:
        # Managers pick the location by name in the CRM, so two equal names would be ambiguous.
        problems.append(Problem("name", _("Локация с таким названием уже есть."), "name_taken"))
    if len(address) > ADDRESS_MAX:
        problems.append(
            Problem(
                "address",
                _("Адрес длиннее %(n)s символов.") % {"n": ADDRESS_MAX},
                "address_too_long",
            )
        )
    return problems


DELIVERED_STATUSES_MAX = 50


def delivered_status_problems(status_ids: list[int] | None) -> list[Problem]:
    """The CRM stages counted as "delivered": positive whole ids, at most 50 (None: unchanged)."""
    if status_ids is None:
        return []
    if len(status_ids) > DELIVERED_STATUSES_MAX or not all(
        type(s) is int and 0 < s < 2**63 for s in status_ids
    ):
        return [
            Problem(
                "delivered_status_ids",
                _("Этапы «услуга оказана» — до 50 номеров этапов amoCRM, целые положительные."),
                "invalid_status_ids",
            )
        ]
    return []


def settings_problems(
    *, prepayment_mode: str, prepayment_value: Decimal, invoice_ttl_hours: int, item_name: str
) -> list[Problem]:
    problems: list[Problem] = []
    if prepayment_mode == PrepaymentMode.PERCENT:
        if not Decimal(0) < prepayment_value < Decimal(100):
            problems.append(
                Problem(
                    "prepayment.value",
                    _("Процент предоплаты — больше 0 и меньше 100."),
                    "invalid_prepayment",
                )
            )
    elif prepayment_mode == PrepaymentMode.FIXED:
        if not Decimal(0) < prepayment_value < PREPAYMENT_FIXED_LIMIT:
            problems.append(
                Problem(
                    "prepayment.value",
                    _("Сумма предоплаты — больше нуля и меньше миллиарда рублей."),
                    "invalid_prepayment",
                )
            )
    else:
        problems.append(
            Problem("prepayment.mode", _("Режим предоплаты: percent или fixed."), "invalid_choice")
        )
    if not problems and prepayment_value != prepayment_value.quantize(Decimal("0.01")):
        problems.append(
            Problem(
                "prepayment.value", _("Не больше двух знаков после запятой."), "invalid_prepayment"
            )
        )
    if not TTL_HOURS_MIN <= invoice_ttl_hours <= TTL_HOURS_MAX:
        problems.append(
            Problem(
                "invoice_ttl_hours",
                _("Срок жизни счёта — от 1 до 720 часов."),
                "invalid_invoice_ttl",
            )
        )
    problem = item_name_problem(item_name)
    if problem:
        problems.append(problem)
    return problems


def item_name_problem(template: str) -> Problem | None:
    """The receipt line is rendered with str.format, so anything but `{location}` would crash or leak
    attributes at payment time; it is refused here instead."""
    if not template:
        return Problem("item_name", _("Укажите название позиции в чеке."), "item_name_required")
    if len(template) > ITEM_NAME_MAX:
        return Problem(
            "item_name",
            _("Название позиции длиннее %(n)s символов.") % {"n": ITEM_NAME_MAX},
            "item_name_too_long",
        )
    try:
        parts = list(Formatter().parse(template))
    except ValueError:
        return Problem(
            "item_name",
            _("Непарная фигурная скобка; допустима только подстановка {location}."),
            "invalid_item_name",
        )
    for _literal, field, spec, conversion in parts:
        if field is None:
            continue
        if field != ITEM_NAME_PLACEHOLDER or spec or conversion:
            return Problem(
                "item_name",
                _("Допустима только подстановка {location}, а не «{%(f)s}».") % {"f": field},
                "invalid_item_name",
            )
    return None
