"""Inbound YooKassa notifications (§6). They carry no signature: a notification is only a
trigger. It is believed neither for its sender nor for its content: the sender's address must be
in the allow-list (§6.2), and the payment is read again from the API with the shop's own
credentials; the verdict is built from that answer alone. Nothing here raises on bad input.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billing_providers.base import CallbackVerdict
from billing_providers.yookassa.consts import (
    ACK_CONTENT_TYPE,
    BODY_PARAM,
    INVOICE_ID_KEY,
    INVOICE_ID_MAX,
    REMOTE_ADDR_PARAM,
)
from billing_providers.yookassa.receipts import parse_money

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_OBJECT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_INVOICE_ID = re.compile(r"[0-9]{1,19}")
_MAX_BODY = 200_000

# Verdict reason codes of this provider besides the common ones (base.CallbackVerdict):
# bad_source (sender not allowed), bad_body, unknown_payment (the API does not know it for this
# shop), foreign_shop, invoice_mismatch, not_paid (the API says it is not paid: a retry may find
# it paid), unavailable (the API could not be asked: YooKassa must retry), ignored_event (a
# genuine notification that pays nothing: acknowledge it with 200 so it is not retried).
ACKNOWLEDGED_REFUSALS = frozenset({"ignored_event"})


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """The allow-list as networks. Raises ValueError for a malformed entry (a setting)."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values)


def source_allowed(remote_addr: str | None, networks: Iterable[Network]) -> bool:
    """True when ``remote_addr`` (an IPv4/IPv6 literal) lies in one of ``networks``."""
    try:
        address = ipaddress.ip_address((remote_addr or "").strip())
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:a.b.c.d from a dual-stack socket
    if mapped is not None:
        address = mapped
    return any(address.version == net.version and address in net for net in networks)


def notification_params(body: bytes | str, remote_addr: str) -> dict[str, str]:
    """What the core passes to ``verify_callback``: the raw body and the sender's address as
    our trusted edge saw it (behind a proxy: the proxy's own header, never the client's)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return {BODY_PARAM: text, REMOTE_ADDR_PARAM: remote_addr}


@dataclass(frozen=True)
class Notification:
    """The parts of an untrusted notification body used to locate and re-read the object."""

    event: str
    object_type: str  # "payment" or "refund"
    object_id: str
    invoice_id: int | None  # as claimed in the body's metadata: a hint only


def parse_invoice_id(raw: object) -> int | None:
    if not isinstance(raw, str) or not _INVOICE_ID.fullmatch(raw):
        return None
    value = int(raw)
    return value if 0 < value <= INVOICE_ID_MAX else None


def parse_notification(params: Mapping[str, str]) -> Notification | None:
    """The event and object id of a notification body (§6.1), or None. Never raises."""
    text = params.get(BODY_PARAM) or ""
    if len(text) > _MAX_BODY:
        return None
    try:
        body = json.loads(text)
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("type") != "notification":
        return None
    event, obj = body.get("event"), body.get("object")
    if not isinstance(event, str) or not isinstance(obj, dict):
        return None
    object_type = event.partition(".")[0]
    object_id = obj.get("id")
    if object_type not in ("payment", "refund") or not isinstance(object_id, str):
        return None
    if not _OBJECT_ID.fullmatch(object_id):
        return None
    metadata = obj.get("metadata")
    claimed = metadata.get(INVOICE_ID_KEY) if isinstance(metadata, dict) else None
    return Notification(event, object_type, object_id, parse_invoice_id(claimed))


def refusal(
    code: str,
    reason: str,
    *,
    invoice_id: int | None = None,
    amount: Decimal | None = None,
    is_test: bool = False,
) -> CallbackVerdict:
    return CallbackVerdict(
        accepted=False,
        invoice_id=invoice_id,
        amount=amount,
        is_test=is_test,
        reason_code=code,
        reason=reason,
    )


def metadata_extra(metadata: object) -> dict[str, str]:
    """Our custom fields echoed in ``metadata`` (everything but the invoice id)."""
    if not isinstance(metadata, dict):
        return {}
    return {
        str(key): value
        for key, value in metadata.items()
        if key != INVOICE_ID_KEY and isinstance(value, str)
    }


def payment_verdict(
    payment: Mapping[str, Any],
    *,
    claimed_invoice_id: int | None,
    shop_id: str,
    test_mode: bool,
    expected_amount: Decimal | None,
) -> CallbackVerdict:
    """The verdict on a payment as the API returned it (never the notification's copy)."""
    metadata = payment.get("metadata")
    invoice_id = parse_invoice_id(
        metadata.get(INVOICE_ID_KEY) if isinstance(metadata, dict) else None
    )
    amount = parse_money(payment.get("amount"))
    is_test = payment.get("test") is True

    def refuse(code: str, reason: str) -> CallbackVerdict:
        return refusal(code, reason, invoice_id=invoice_id, amount=amount, is_test=is_test)

    recipient = payment.get("recipient")
    account_id = recipient.get("account_id") if isinstance(recipient, dict) else None
    if shop_id and account_id is not None and str(account_id) != shop_id:
        return refuse("foreign_shop", "The payment belongs to another shop")
    if invoice_id is None or invoice_id != claimed_invoice_id:
        return refuse("invoice_mismatch", "The payment's metadata names another invoice")
    if is_test and not test_mode:
        return refuse("unexpected_test", "A test shop's payment for a shop in live mode")
    status = payment.get("status")
    if status == "canceled":
        return refuse("ignored_event", "The payment was canceled: nothing to record")
    if status != "succeeded" or payment.get("paid") is not True:
        return refuse("not_paid", f"The payment is {status!s}, not succeeded")
    if amount is None:
        return refuse("bad_amount", "The payment's amount is not a rouble amount")
    if expected_amount is not None and amount != expected_amount:
        return refuse("amount_mismatch", f"Amount {amount} differs from the invoice amount")
    income = parse_money(payment.get("income_amount"))
    method = payment.get("payment_method")
    raw_amount = payment["amount"].get("value") if isinstance(payment.get("amount"), dict) else None
    return CallbackVerdict(
        accepted=True,
        invoice_id=invoice_id,
        amount=amount,
        is_test=is_test,
        extra=metadata_extra(metadata),
        raw_amount=str(raw_amount) if raw_amount is not None else None,
        payment_method=str(method.get("type")) if isinstance(method, dict) else None,
        fee=amount - income if income is not None and income <= amount else None,
    )


def acknowledgement(verdict: CallbackVerdict) -> tuple[str, str]:
    """YooKassa reads only the HTTP status (200 stops retries, §6.3); the body is for people."""
    if verdict.accepted:
        return "OK", ACK_CONTENT_TYPE
    return f"ERROR {verdict.reason_code or 'refused'}: {verdict.reason or ''}", ACK_CONTENT_TYPE
