"""The payment request (§1, §2.1, §2.4): signed fields and the GET link. Pure functions."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from urllib.parse import urlencode

from billing_providers.errors import ProviderConfigError
from billing_providers.robokassa.consts import (
    DESCRIPTION_MAX_LENGTH,
    ENCODING,
    EXTRA_KEY_PATTERN,
    EXTRA_VALUE_PATTERN,
    INVOICE_ID_MAX,
    MOSCOW_TZ,
    SHP_PREFIX,
)

_EXTRA_KEY = re.compile(EXTRA_KEY_PATTERN)
_EXTRA_VALUE = re.compile(EXTRA_VALUE_PATTERN)


def check_invoice_id(invoice_id: int) -> str:
    """``InvId`` as sent. Raises ProviderConfigError outside 1 … 2^31−1 (§1.2)."""
    if not 1 <= invoice_id <= INVOICE_ID_MAX:
        raise ProviderConfigError(
            f"Invoice id must be within 1..{INVOICE_ID_MAX}", code="bad_invoice_id"
        )
    return str(invoice_id)


def shp_from_extra(extra: Mapping[str, str]) -> list[tuple[str, str]]:
    """``{"order": "42"}`` → ``[("Shp_order", "42")]``, sorted by name.

    Keys must be lowercase ASCII letters/digits and values ASCII ``[A-Za-z0-9._-]``, so
    that every sort order and every encoding rule agree (§2.3). Raises ProviderConfigError."""
    pairs = []
    for key, value in extra.items():
        if not _EXTRA_KEY.fullmatch(key):
            raise ProviderConfigError(
                f"Custom field name {key!r} must be lowercase letters and digits, no prefix",
                code="bad_extra",
            )
        if not _EXTRA_VALUE.fullmatch(value):
            raise ProviderConfigError(
                f"Custom field {key!r} may only hold letters, digits, '.', '_' and '-'",
                code="bad_extra",
            )
        pairs.append((SHP_PREFIX + key, value))
    return sorted(pairs)


def clean_description(description: str) -> str:
    """Whitespace collapsed, cut to 100 characters (§1.2). Raises ProviderConfigError when
    empty."""
    cleaned = " ".join(description.split())
    if not cleaned:
        raise ProviderConfigError("Description is empty", code="bad_description")
    return cleaned[:DESCRIPTION_MAX_LENGTH]


def format_expiration(expires_at: datetime, timezone: tzinfo = MOSCOW_TZ) -> str:
    """``ExpirationDate``: ISO 8601 with an explicit offset, in ``timezone`` (Moscow by
    default), whole seconds. Raises ProviderConfigError for a naive datetime."""
    if expires_at.tzinfo is None or expires_at.utcoffset() is None:
        raise ProviderConfigError("expires_at must be timezone-aware", code="naive_datetime")
    return expires_at.astimezone(timezone).isoformat(timespec="seconds")


def payment_fields(
    *,
    login: str,
    out_sum: str,
    inv_id: str,
    description: str,
    signature: str,
    culture: str | None = "ru",
    expiration: str | None = None,
    email: str | None = None,
    receipt: str | None = None,
    is_test: bool = False,
    shp: Sequence[tuple[str, str]] = (),
) -> list[tuple[str, str]]:
    """The payment form fields in a fixed order; ``receipt`` is the URL-encoded JSON (the
    value that was signed), Shp pairs are sent in the order they were signed."""
    fields = [
        ("MerchantLogin", login),
        ("OutSum", out_sum),
        ("InvId", inv_id),
        ("Description", description),
    ]
    if culture:
        fields.append(("Culture", culture))
    fields.append(("Encoding", ENCODING))
    if expiration is not None:
        fields.append(("ExpirationDate", expiration))
    if email:
        fields.append(("Email", email))
    if receipt is not None:
        fields.append(("Receipt", receipt))
    if is_test:
        fields.append(("IsTest", "1"))
    fields.extend(shp)
    fields.append(("SignatureValue", signature))
    return fields


def payment_url(base_url: str, fields: Sequence[tuple[str, str]]) -> str:
    """The GET link: every value query-encoded once (so ``Receipt`` ends up encoded twice,
    as Robokassa expects, §2.4)."""
    separator = "&" if "?" in base_url else "?"
    return base_url + separator + urlencode(fields)
