"""Russian registration numbers, checked by their control digits."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

_INN10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_1 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_2 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _check(digits: list[int], weights: tuple[int, ...]) -> int:
    return sum(d * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def inn_is_valid(inn: str, *, legal_form: str | None = None) -> bool:
    """ИНН: 10 digits for an organisation (ООО), 12 for an individual entrepreneur (ИП)."""
    if not inn.isdigit() or not inn.isascii():
        return False
    d = [int(c) for c in inn]
    if len(inn) == 10 and legal_form in (None, "ooo"):
        return _check(d, _INN10) == d[9]
    if len(inn) == 12 and legal_form in (None, "ip"):
        return _check(d, _INN12_1) == d[10] and _check(d, _INN12_2) == d[11]
    return False


def ogrn_is_valid(ogrn: str, *, legal_form: str | None = None) -> bool:
    """ОГРН (13 digits, ООО) or ОГРНИП (15 digits, ИП)."""
    if not ogrn.isdigit() or not ogrn.isascii():
        return False
    if len(ogrn) == 13 and legal_form in (None, "ooo"):
        return int(ogrn[:12]) % 11 % 10 == int(ogrn[12])
    if len(ogrn) == 15 and legal_form in (None, "ip"):
        return int(ogrn[:14]) % 13 % 10 == int(ogrn[14])
    return False


def validate_inn(inn: str, legal_form: str) -> None:
    if not inn_is_valid(inn, legal_form=legal_form):
        expected = 12 if legal_form == "ip" else 10
        raise ValidationError(
            _("ИНН неверен: для %(form)s нужно %(n)s цифр с верными контрольными разрядами.")
            % {"form": "ИП" if legal_form == "ip" else "ООО", "n": expected},
            code="invalid_inn",
        )


def validate_ogrn(ogrn: str, legal_form: str) -> None:
    if ogrn and not ogrn_is_valid(ogrn, legal_form=legal_form):
        raise ValidationError(
            _("ОГРНИП неверен: 15 цифр с верным контрольным разрядом.")
            if legal_form == "ip"
            else _("ОГРН неверен: 13 цифр с верным контрольным разрядом."),
            code="invalid_ogrn",
        )
