"""Payment-provider signatures masked wherever stored provider fields leave the database.

A signature is not a secret by itself, but it is a hash over fields that are not secret either
(Robokassa: ``OutSum:InvId:Password#2``, or the login, amount and InvId with Password #1 for a
payment link), so whoever holds one can try passwords offline until one reproduces it. The panel
(a deal's notifications) and the operator's export both show stored notifications and payment URLs;
both go through here. Each provider names its signature fields itself
(`BillingProvider.signature_fields`), so the core holds no vendor's field names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from billing_providers.registry import signature_field_names

MASK = "••••••"


@cache
def _names() -> frozenset[str]:
    return signature_field_names()


@cache
def _in_text() -> re.Pattern[str]:
    # `name=value` inside a URL or a query string; the value ends where a query value ends.
    names = "|".join(re.escape(name) for name in sorted(_names()))
    return re.compile(rf"(?i)(?<![A-Za-z0-9_])({names})=([^&#\s\"'<>]*)")


def is_signature_field(name: object) -> bool:
    return str(name).lower() in _names()


def signatures_masked_in_text(text: str) -> str:
    """``text`` with the value of every ``<signature field>=...`` pair replaced by the mask."""
    if "=" not in text:
        return text
    return _in_text().sub(lambda match: f"{match.group(1)}={MASK}", text)


def signatures_masked(value: Any) -> Any:
    """``value`` (a stored cell: a mapping, a list, a string or a scalar) with every signature
    masked: under a signature field's name at any depth, and inside URLs and query strings."""
    if isinstance(value, Mapping):
        return {
            key: MASK if is_signature_field(key) else signatures_masked(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [signatures_masked(item) for item in value]
    if isinstance(value, str):
        return signatures_masked_in_text(value)
    return value
