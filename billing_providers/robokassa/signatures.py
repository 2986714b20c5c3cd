"""Robokassa signature strings and hashes (§2, §5.3, §6, §7 of shared/specs/robokassa.md).

Pure functions over strings: a signature base is built from values exactly as they are sent
or received, joined by ``:``; the hash is the hex digest of its UTF-8 bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, cast

from billing_providers.errors import ProviderConfigError
from billing_providers.robokassa import ripemd160
from billing_providers.robokassa.consts import HASH_ALGORITHMS
from billing_providers.robokassa.ripemd160 import HashObject

ShpOrdering = Literal["ordinal", "casefold"]
Base64Alphabet = Literal["urlsafe", "standard"]

_JWT_ALG_NAMES = {
    "md5": "MD5",
    "ripemd160": "RIPEMD160",
    "sha1": "SHA1",
    "sha256": "SHA256",
    "sha384": "SHA384",
    "sha512": "SHA512",
}
_TWO_PLACES = Decimal("0.01")


def new_hash(algorithm: str, data: bytes = b"") -> HashObject:
    """A hash object for one of the six algorithms a shop can choose.

    Raises ProviderConfigError for any other name."""
    name = algorithm.lower()
    if name not in HASH_ALGORITHMS:
        raise ProviderConfigError(
            f"Unsupported hash algorithm {algorithm!r}; expected one of {HASH_ALGORITHMS}",
            code="unknown_hash_algorithm",
        )
    if name == "ripemd160":
        return ripemd160.new(data)
    return hashlib.new(name, data)


def hex_digest(algorithm: str, text: str) -> str:
    """Lower-case hex digest of the UTF-8 bytes of ``text``."""
    return new_hash(algorithm, text.encode("utf-8")).hexdigest()


def signatures_match(expected: str, received: str) -> bool:
    """Case-insensitive constant-time comparison of two hex signatures."""
    return hmac.compare_digest(
        expected.upper().encode("utf-8"), received.upper().encode("utf-8", "replace")
    )


def format_out_sum(amount: Decimal) -> str:
    """``OutSum`` as sent: two decimals, a dot (``Decimal("1500") -> "1500.00"``).

    Raises ProviderConfigError for a non-positive amount or one with fractions of a kopeck
    (rounding would bill a different sum)."""
    try:
        quantized = amount.quantize(_TWO_PLACES)
    except InvalidOperation as exc:
        raise ProviderConfigError("Amount is not a finite number", code="bad_amount") from exc
    if not amount.is_finite() or quantized != amount:
        raise ProviderConfigError("Amount must have at most two decimals", code="bad_amount")
    if quantized <= 0:
        raise ProviderConfigError("Amount must be positive", code="bad_amount")
    return format(quantized, "f")


def shp_pairs(params: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The ``Shp_*`` pairs among ``params`` (any prefix case), names and values untouched."""
    return [(key, value) for key, value in params if key.lower().startswith("shp_")]


def sort_shp(
    pairs: Iterable[tuple[str, str]], ordering: ShpOrdering = "ordinal"
) -> list[tuple[str, str]]:
    """Sort Shp pairs by name: ``ordinal`` (Python's ``sorted``) or ``casefold``
    (case-insensitive, as Robokassa's own OpenCart module does; §2.3 UNCERTAIN)."""
    if ordering == "casefold":
        return sorted(pairs, key=lambda pair: (pair[0].casefold(), pair[0]))
    return sorted(pairs)


def _with_shp(head: list[str], shp: Iterable[tuple[str, str]], ordering: ShpOrdering) -> str:
    return ":".join([*head, *(f"{key}={value}" for key, value in sort_shp(shp, ordering))])


def payment_signature_base(
    *,
    login: str,
    out_sum: str,
    inv_id: str,
    password1: str,
    out_sum_currency: str | None = None,
    user_ip: str | None = None,
    receipt: str | None = None,
    step_by_step: str | None = None,
    result_url2: str | None = None,
    success_url2: str | None = None,
    success_url2_method: str | None = None,
    fail_url2: str | None = None,
    fail_url2_method: str | None = None,
    token: str | None = None,
    shp: Iterable[tuple[str, str]] = (),
    ordering: ShpOrdering = "ordinal",
) -> str:
    """The payment request's signature base (§2.1)::

        MerchantLogin:OutSum:InvId[:OutSumCurrency][:UserIp][:Receipt][:StepByStep]
          [:ResultUrl2][:SuccessUrl2:SuccessUrl2Method][:FailUrl2:FailUrl2Method][:Token]
          :Password#1[:Shp_a=va:Shp_b=vb...]

    Every value must be the exact string that is sent (``receipt`` is the URL-encoded JSON).
    An absent InvId keeps its empty slot (pass ""); other absent parts leave no slot.
    """
    optional = (
        out_sum_currency,
        user_ip,
        receipt,
        step_by_step,
        result_url2,
        success_url2,
        success_url2_method,
        fail_url2,
        fail_url2_method,
        token,
    )
    head = [login, out_sum, inv_id, *(part for part in optional if part is not None), password1]
    return _with_shp(head, shp, ordering)


def notification_signature_base(
    *,
    out_sum: str,
    inv_id: str,
    password: str,
    shp: Iterable[tuple[str, str]] = (),
    ordering: ShpOrdering = "ordinal",
) -> str:
    """``OutSum:InvId:Password[:Shp_...]`` over the received strings: Password #2 for
    ResultURL (§3.1), Password #1 for SuccessURL (§3.2)."""
    return _with_shp([out_sum, inv_id, password], shp, ordering)


def op_state_signature_base(*, login: str, inv_id: str, password2: str) -> str:
    """``MerchantLogin:InvoiceID:Password#2`` for OpStateExt (§6)."""
    return f"{login}:{inv_id}:{password2}"


def b64_unpadded(data: bytes, alphabet: Base64Alphabet = "urlsafe") -> str:
    """Base64 (URL-safe or standard alphabet) with the trailing `=` removed."""
    encoded = base64.urlsafe_b64encode(data) if alphabet == "urlsafe" else base64.b64encode(data)
    return encoded.rstrip(b"=").decode("ascii")


def fiscal_envelope(
    payload_json: str,
    *,
    password1: str,
    algorithm: str,
    alphabet: Base64Alphabet = "urlsafe",
) -> str:
    """The second-receipt body (§5.3)::

        BASE64(json) + "." + BASE64(lowercase_hex(hash(BASE64(json) + Password#1)))

    with every trailing ``=`` removed. ``alphabet`` defaults to URL-safe like the official
    SDK (UNCERTAIN; identical for ASCII-only JSON without ``>?~``)."""
    body = b64_unpadded(payload_json.encode("utf-8"), alphabet)
    digest = hex_digest(algorithm, body + password1)
    return f"{body}.{b64_unpadded(digest.encode('ascii'), alphabet)}"


def invoice_api_jwt(payload_json: str, *, login: str, password1: str, algorithm: str) -> str:
    """The Invoice API token (§7): base64url header and payload, HMAC with key
    ``"<MerchantLogin>:<Password#1>"``, raw digest base64url-encoded, no padding."""
    alg = algorithm.lower()
    new_hash(alg)  # validates the name
    header = f'{{"typ":"JWT","alg":"{_JWT_ALG_NAMES[alg]}"}}'
    signing_input = f"{b64_unpadded(header.encode())}.{b64_unpadded(payload_json.encode())}"

    def hash_factory(data: bytes = b"") -> HashObject:
        return new_hash(alg, data)

    # hmac needs only update/digest/copy/sizes of the hash, all of which HashObject has.
    mac = hmac.new(
        f"{login}:{password1}".encode(),
        signing_input.encode("ascii"),
        cast("Callable[[], Any]", hash_factory),
    )
    return f"{signing_input}.{b64_unpadded(mac.digest())}"
