"""Royalty arithmetic: what a partner owes for a month's base. Pure functions, Decimal only.

Semantics (documented for owners and integrators):

- **base** = the partner's paid turnover of the month minus the refunds finished in that month
  (test payments, and refunds of test payments, never count). It may be negative: a refund in
  December of a November payment lowers December's base; nothing is carried to another month.
- **percent**: ``base × percent / 100``.
- **fixed**: the fixed monthly sum, whatever the base (a minimum has no meaning there).
- **tiers** (progressive brackets, like an income tax): each tier is ``(from, percent)`` sorted by
  ``from``, the first from 0. The part of the base between one tier's ``from`` and the next one's is
  charged at that tier's percent; the last tier has no upper bound. Tiers ``0: 6 %, 500 000: 4 %``
  on a base of 600 000 give 500 000 × 6 % + 100 000 × 4 % = 34 000.
- **minimum** (percent and tiers): the month costs at least this much, even with no turnover.
- A base at or below zero yields zero before the minimum: a royalty is never negative.
- Rounding: the exact amount is rounded once, at the end, to kopecks with ROUND_HALF_UP
  (bracket parts are summed unrounded).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

KOPECK = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
MAX_TIERS = 10


class RuleInvalid(ValueError):
    """The rule cannot be applied; the message is for a person (Russian)."""


@dataclass(frozen=True)
class Tier:
    start: Decimal
    percent: Decimal


@dataclass(frozen=True)
class RuleSpec:
    kind: str  # "percent" | "fixed" | "tiers"
    percent: Decimal | None = None
    fixed_amount: Decimal | None = None
    minimum: Decimal | None = None
    tiers: tuple[Tier, ...] = ()

    def snapshot(self) -> dict[str, Any]:
        """The rule as stored in a statement and answered by the API (money as strings)."""
        return {
            "kind": self.kind,
            "percent": _text(self.percent),
            "fixed_amount": _text(self.fixed_amount),
            "minimum": _text(self.minimum),
            "tiers": [
                {"from": f"{t.start:.2f}", "percent": f"{t.percent:.2f}"} for t in self.tiers
            ],
        }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def money(value: Decimal) -> Decimal:
    return value.quantize(KOPECK, rounding=ROUND_HALF_UP)


def rule_validate(spec: RuleSpec) -> None:
    """Raise RuleInvalid with a message a person understands when the rule makes no sense."""
    if spec.kind == "percent":
        if spec.percent is None:
            raise RuleInvalid(_("Укажите процент."))
        _check_percent(spec.percent)
    elif spec.kind == "fixed":
        if spec.fixed_amount is None or spec.fixed_amount < 0:
            raise RuleInvalid(_("Укажите фиксированную сумму (не меньше нуля)."))
    elif spec.kind == "tiers":
        if not spec.tiers:
            raise RuleInvalid(_("Укажите хотя бы одну ступень шкалы."))
        if len(spec.tiers) > MAX_TIERS:
            raise RuleInvalid(_("Не больше %(n)s ступеней.") % {"n": MAX_TIERS})
        if spec.tiers[0].start != 0:
            raise RuleInvalid(_("Первая ступень должна начинаться с нуля."))
        for before, after in zip(spec.tiers, spec.tiers[1:], strict=False):
            if after.start <= before.start:
                raise RuleInvalid(_("Пороги ступеней должны возрастать."))
        for tier in spec.tiers:
            _check_percent(tier.percent)
    else:
        raise RuleInvalid(_("Неизвестный вид правила."))
    if spec.minimum is not None and spec.minimum < 0:
        raise RuleInvalid(_("Минимум не может быть меньше нуля."))


def _check_percent(value: Decimal) -> None:
    if not (0 <= value <= HUNDRED):
        raise RuleInvalid(_("Процент должен быть от 0 до 100."))


def royalty_amount(*, spec: RuleSpec, base: Decimal) -> Decimal:
    """What the partner owes for a month whose base is `base` (kopecks, ROUND_HALF_UP)."""
    if spec.kind == "fixed":
        return money(spec.fixed_amount or ZERO)
    positive = max(base, ZERO)
    if spec.kind == "percent":
        exact = positive * (spec.percent or ZERO) / HUNDRED
    elif spec.kind == "tiers":
        exact = _tiered(spec.tiers, positive)
    else:
        raise RuleInvalid(spec.kind)
    amount = money(exact)
    if spec.minimum is not None and amount < spec.minimum:
        amount = money(spec.minimum)
    return amount


def _tiered(tiers: tuple[Tier, ...], base: Decimal) -> Decimal:
    total = Decimal(0)
    for index, tier in enumerate(tiers):
        if base <= tier.start:
            break
        upper = tiers[index + 1].start if index + 1 < len(tiers) else base
        total += (min(base, upper) - tier.start) * tier.percent / HUNDRED
    return total


def tiers_parse(text: str) -> tuple[Tier, ...]:
    """Tiers as an owner types them, one per line: ``<from>: <percent>`` (``500 000: 4``; a comma
    may stand for the decimal point). Raises RuleInvalid naming the bad line."""

    tiers: list[Tier] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        start_text, sep, percent_text = line.partition(":")
        try:
            if not sep:
                raise InvalidOperation
            start = Decimal(_number(start_text))
            percent = Decimal(_number(percent_text.rstrip("% ")))
        except InvalidOperation:
            raise RuleInvalid(
                _("Строка %(n)s: ожидается «порог: процент», например «500000: 4».") % {"n": number}
            ) from None
        if not start.is_finite() or not percent.is_finite() or start < 0:
            raise RuleInvalid(
                _("Строка %(n)s: порог и процент — неотрицательные числа.") % {"n": number}
            )
        tiers.append(Tier(start=money(start), percent=percent.quantize(KOPECK)))
    return tuple(tiers)


def _number(text: str) -> str:
    return text.replace("\u00a0", "").replace(" ", "").replace(",", ".").strip()


def tiers_text(tiers: list[dict[str, str]] | tuple[Tier, ...]) -> str:
    """The inverse of tiers_parse, for the form."""
    lines = []
    for tier in tiers:
        if isinstance(tier, Tier):
            start, percent = tier.start, tier.percent
        else:
            start, percent = Decimal(tier["from"]), Decimal(tier["percent"])
        lines.append(f"{start.normalize():f}: {percent.normalize():f}")
    return "\n".join(lines)


def spec_from_stored(
    *,
    kind: str,
    percent: Decimal | None,
    fixed_amount: Decimal | None,
    minimum: Decimal | None,
    tiers: list[dict[str, str]],
) -> RuleSpec:
    return RuleSpec(
        kind=kind,
        percent=percent,
        fixed_amount=fixed_amount,
        minimum=minimum if minimum else None,
        tiers=tuple(Tier(Decimal(t["from"]), Decimal(t["percent"])) for t in tiers),
    )
