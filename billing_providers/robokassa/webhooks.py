"""Inbound Robokassa requests: ResultURL notifications (§3.1) and SuccessURL redirects (§3.2).

Signatures are computed over the parameter strings exactly as received (``OutSum`` stays
``"1500.000000"``), compared case-insensitively in constant time; the amount is then compared
numerically. Nothing here raises on bad input: every problem becomes a refusal verdict.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal

from billing_providers.base import CallbackVerdict, ProviderAccount
from billing_providers.robokassa.consts import (
    ACK_CONTENT_TYPE,
    ACK_PREFIX,
    HASH_ALGORITHMS,
    PASSWORD1,
    PASSWORD2,
    TEST_PASSWORD1,
    TEST_PASSWORD2,
)
from billing_providers.robokassa.signatures import (
    ShpOrdering,
    hex_digest,
    notification_signature_base,
    shp_pairs,
    signatures_match,
)

_INV_ID = re.compile(r"[0-9]{1,19}")
_INV_ID_MAX = 2**63 - 1
_AMOUNT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,10})?")
_TWO_PLACES = Decimal("0.01")
_REQUIRED = ("OutSum", "InvId", "SignatureValue")

DEFAULT_ORDERINGS: tuple[ShpOrdering, ...] = ("ordinal", "casefold")


def parse_invoice_id(raw: str | None) -> int | None:
    """A positive integer InvId, or None when absent, malformed or beyond what an id can be (the
    core stores it in a bigint column: 19 digits may still overflow it)."""
    if raw is None or not _INV_ID.fullmatch(raw):
        return None
    value = int(raw)
    return value if 0 < value <= _INV_ID_MAX else None


def parse_amount(raw: str | None) -> Decimal | None:
    """A positive amount from a string like ``1500.000000``, or None. Kept to two places when
    that loses nothing (``1500.000000`` → ``Decimal("1500.00")``)."""
    if raw is None or not _AMOUNT.fullmatch(raw):
        return None
    value = Decimal(raw)
    if value <= 0:
        return None
    quantized = value.quantize(_TWO_PLACES)
    return quantized if quantized == value else value


def callback_invoice_id(params: Mapping[str, str]) -> int | None:
    """The InvId of an unverified notification, or None. Never raises."""
    return parse_invoice_id(params.get("InvId"))


def _extra(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    return {key[len("shp_") :]: value for key, value in pairs}


def _verify(
    account: ProviderAccount,
    params: Mapping[str, str],
    *,
    live_password_key: str,
    test_password_key: str,
    expected_amount: Decimal | None,
    orderings: Sequence[ShpOrdering],
    refuse_test_when_live: bool,
) -> CallbackVerdict:
    is_test = params.get("IsTest") == "1"
    invoice_id = parse_invoice_id(params.get("InvId"))
    amount = parse_amount(params.get("OutSum"))
    shp = shp_pairs(params.items())

    def refuse(code: str, reason: str) -> CallbackVerdict:
        return CallbackVerdict(
            accepted=False,
            invoice_id=invoice_id,
            amount=amount,
            is_test=is_test,
            reason_code=code,
            reason=reason,
            extra=_extra(shp),
            raw_amount=params.get("OutSum"),
        )

    missing = [name for name in _REQUIRED if not params.get(name)]
    if missing:
        return refuse("missing_field", f"Missing field(s): {', '.join(missing)}")
    if invoice_id is None:
        return refuse("bad_invoice_id", "InvId is not a positive integer")
    if amount is None:
        return refuse("bad_amount", "OutSum is not a positive decimal number")
    if is_test and refuse_test_when_live and not account.test_mode:
        return refuse("unexpected_test", "A test-mode notification for a shop in live mode")
    password = account.secrets.get(test_password_key if is_test else live_password_key)
    if not password or account.hash_algorithm.lower() not in HASH_ALGORITHMS:
        return refuse("not_configured", "The shop has no password or hash algorithm for this")

    received = params["SignatureValue"]
    bases = {
        notification_signature_base(
            out_sum=params["OutSum"],
            inv_id=params["InvId"],
            password=password,
            shp=shp,
            ordering=ordering,
        )
        for ordering in orderings
    }
    # Every candidate is hashed and compared, so the timing does not depend on which matched.
    matches = [signatures_match(hex_digest(account.hash_algorithm, b), received) for b in bases]
    if not any(matches):
        return refuse("bad_signature", "SignatureValue does not match")
    if expected_amount is not None and amount != expected_amount:
        return refuse("amount_mismatch", f"OutSum {amount} differs from the invoice amount")

    return CallbackVerdict(
        accepted=True,
        invoice_id=invoice_id,
        amount=amount,
        is_test=is_test,
        extra=_extra(shp),
        raw_amount=params["OutSum"],
        payment_method=params.get("PaymentMethod") or None,
        fee=parse_amount(params.get("Fee")),
        email=params.get("EMail") or None,
    )


def verify_result_callback(
    account: ProviderAccount,
    params: Mapping[str, str],
    *,
    expected_amount: Decimal | None,
    orderings: Sequence[ShpOrdering] = DEFAULT_ORDERINGS,
    refuse_test_when_live: bool = True,
) -> CallbackVerdict:
    """Check a ResultURL notification with Password #2 (test Password #2 when ``IsTest=1``).

    ``orderings``: the Shp sort orders accepted (§2.3 UNCERTAIN; with our lowercase names they
    coincide). ``refuse_test_when_live``: refuse ``IsTest=1`` when ``account.test_mode`` is
    off, so a simulated payment never pays a live invoice; pass ``test_mode=True`` for an
    invoice that was issued in test mode."""
    return _verify(
        account,
        params,
        live_password_key=PASSWORD2,
        test_password_key=TEST_PASSWORD2,
        expected_amount=expected_amount,
        orderings=orderings,
        refuse_test_when_live=refuse_test_when_live,
    )


def verify_success_redirect(
    account: ProviderAccount,
    params: Mapping[str, str],
    *,
    expected_amount: Decimal | None = None,
    orderings: Sequence[ShpOrdering] = DEFAULT_ORDERINGS,
) -> CallbackVerdict:
    """Check a SuccessURL redirect with Password #1 (test #1 when ``IsTest=1``). Only for
    the buyer's page: a redirect is not proof of payment (§3.2)."""
    return _verify(
        account,
        params,
        live_password_key=PASSWORD1,
        test_password_key=TEST_PASSWORD1,
        expected_amount=expected_amount,
        orderings=orderings,
        refuse_test_when_live=False,
    )


def acknowledgement(verdict: CallbackVerdict) -> tuple[str, str]:
    """``("OK<InvId>", "text/plain")`` for an accepted verdict (§3.1); otherwise a short
    plain-text reason that Robokassa will not take for success."""
    if verdict.accepted and verdict.invoice_id is not None:
        return f"{ACK_PREFIX}{verdict.invoice_id}", ACK_CONTENT_TYPE
    return f"ERROR {verdict.reason_code or 'refused'}: {verdict.reason or ''}", ACK_CONTENT_TYPE
