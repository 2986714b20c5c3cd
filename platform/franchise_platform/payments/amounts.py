"""Money rules, pure functions over Decimal: the prepayment and what each link asks for now."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
RUBLE = Decimal("1")
ZERO = Decimal("0.00")


def money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def prepayment_by_rule(*, total: Decimal, mode: str, value: Decimal) -> Decimal | None:
    """The prepayment for `total` under the network's rule, rounded to whole rubles (half up), or
    None when the deal is too small to split (the prepayment would be < 1 ₽ or >= the total)."""
    raw = total * value / Decimal(100) if mode == "percent" else value
    amount = raw.quantize(RUBLE, rounding=ROUND_HALF_UP)
    if amount < RUBLE or amount >= total:
        return None
    return money(amount)


@dataclass(frozen=True)
class DueNow:
    prepayment: Decimal  # what the prepayment link asks (the full sum when the deal cannot split)
    full: Decimal  # what the full link asks: total - paid
    splittable: bool


def amounts_due(*, total: Decimal, paid: Decimal, prepayment: Decimal | None) -> DueNow:
    remaining = max(money(total) - money(paid), ZERO)
    if prepayment is None:
        return DueNow(prepayment=remaining, full=remaining, splittable=False)
    return DueNow(prepayment=money(prepayment), full=remaining, splittable=True)
