"""Royalty arithmetic (rules.py): percent, fixed, minimum, progressive tiers, rounding."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from franchise_platform.royalties.rules import (
    RuleInvalid,
    RuleSpec,
    Tier,
    royalty_amount,
    rule_validate,
    tiers_parse,
)

TIERS = (Tier(D("0"), D("6")), Tier(D("500000"), D("4")), Tier(D("1000000"), D("2")))


@pytest.mark.parametrize(
    ("spec", "base", "expected"),
    [
        # percent of the base
        (RuleSpec("percent", percent=D("5")), D("100000.00"), D("5000.00")),
        (RuleSpec("percent", percent=D("7.5")), D("1234.56"), D("92.59")),  # 92.592 → 92.59
        (RuleSpec("percent", percent=D("10")), D("0.05"), D("0.01")),  # 0.005 → 0.01 (half up)
        (RuleSpec("percent", percent=D("10")), D("0.04"), D("0.00")),  # 0.004 → 0.00
        (RuleSpec("percent", percent=D("5")), D("-3000.00"), D("0.00")),  # never negative
        # a minimum lifts a small month, even an empty one
        (RuleSpec("percent", percent=D("5"), minimum=D("3000")), D("10000.00"), D("3000.00")),
        (RuleSpec("percent", percent=D("5"), minimum=D("3000")), D("100000.00"), D("5000.00")),
        (RuleSpec("percent", percent=D("5"), minimum=D("3000")), D("-500.00"), D("3000.00")),
        # fixed: whatever the base
        (RuleSpec("fixed", fixed_amount=D("15000")), D("0.00"), D("15000.00")),
        (RuleSpec("fixed", fixed_amount=D("15000")), D("9999999.00"), D("15000.00")),
        # progressive brackets: each part of the base at its own tier's percent
        (RuleSpec("tiers", tiers=TIERS), D("400000.00"), D("24000.00")),
        (RuleSpec("tiers", tiers=TIERS), D("500000.00"), D("30000.00")),
        (RuleSpec("tiers", tiers=TIERS), D("600000.00"), D("34000.00")),  # 30000 + 4000
        (RuleSpec("tiers", tiers=TIERS), D("1500000.00"), D("60000.00")),  # 30000+20000+10000
        (RuleSpec("tiers", tiers=TIERS), D("0.00"), D("0.00")),
        # bracket parts are summed unrounded, rounded once: 0.015 + 0.0 → 0.02
        (
            RuleSpec("tiers", tiers=(Tier(D("0"), D("1.5")), Tier(D("1"), D("0")))),
            D("5.00"),
            D("0.02"),
        ),
        (RuleSpec("tiers", tiers=TIERS, minimum=D("25000")), D("400000.00"), D("25000.00")),
    ],
)
def test_royalty_amount_table(spec, base, expected):
    rule_validate(spec)
    amount = royalty_amount(spec=spec, base=base)
    assert amount == expected
    assert amount.as_tuple().exponent == -2


@pytest.mark.parametrize(
    "spec",
    [
        RuleSpec("percent"),
        RuleSpec("percent", percent=D("101")),
        RuleSpec("fixed"),
        RuleSpec("tiers"),
        RuleSpec("tiers", tiers=(Tier(D("100"), D("5")),)),  # must start at zero
        RuleSpec("tiers", tiers=(Tier(D("0"), D("5")), Tier(D("0"), D("4")))),  # not ascending
        RuleSpec("percent", percent=D("5"), minimum=D("-1")),
        RuleSpec("bogus"),
    ],
)
def test_rules_that_make_no_sense_are_refused(spec):
    with pytest.raises(RuleInvalid):
        rule_validate(spec)


def test_tiers_are_read_as_an_owner_types_them():
    assert tiers_parse("0: 6\n500 000: 4,5 %\n\n") == (
        Tier(D("0.00"), D("6.00")),
        Tier(D("500000.00"), D("4.50")),
    )
    with pytest.raises(RuleInvalid, match="Строка 2"):
        tiers_parse("0: 6\nмного")
