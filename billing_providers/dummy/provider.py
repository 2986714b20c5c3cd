"""A provider for local development and tests: signs with HMAC-SHA256 and never touches the
network. Payment "happens" when something posts ``callback_params(...)`` to the callback URL.

Callback fields: ``inv``, ``sum``, ``sig`` and ``x_<name>`` for each ``extra`` entry;
``sig = HMAC-SHA256(password2, "result:<inv>:<sum>[:<name>=<value>...]")`` (names sorted).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import ClassVar
from urllib.parse import urlencode

from billing_providers.base import (
    BillingProvider,
    CallbackVerdict,
    InvoiceRequest,
    InvoiceState,
    InvoiceStatus,
    IssuedInvoice,
    ProviderAccount,
    ReceiptStatus,
    RefundCreated,
    RefundRequest,
    RefundState,
    RefundStatus,
    SettlementReceiptRequest,
    SettlementReceiptResult,
)
from billing_providers.errors import ProviderConfigError, ProviderResponseError

DEFAULT_PAYMENT_URL = "http://dummy.invalid/pay"
SECRET_KEY = "password2"
EXTRA_PREFIX = "x_"

_AMOUNT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,10})?")
_INV_ID = re.compile(r"[0-9]{1,19}")
_TWO_PLACES = Decimal("0.01")

# Shared by every instance so that a state set by one request is seen by the next one in a
# development server (the registry builds a new adapter per call).
_STATES: dict[tuple[str, int], InvoiceState] = {}
# Refund requests: id -> (operation key, amount). Finished on the first state check.
_REFUNDS: dict[str, tuple[str, Decimal]] = {}


def _sign(secret: str, *parts: str) -> str:
    return hmac.new(secret.encode(), ":".join(parts).encode(), hashlib.sha256).hexdigest()


def _extra_parts(extra: Mapping[str, str]) -> list[str]:
    return [f"{key}={value}" for key, value in sorted(extra.items())]


def _amount_text(amount: Decimal) -> str:
    return format(amount.quantize(_TWO_PLACES), "f")


class DummyProvider(BillingProvider):
    """Local stand-in for a real provider. ``states`` (keyed by ``(login, invoice_id)``)
    backs ``fetch_invoice_state``; it defaults to a process-wide dict."""

    slug: ClassVar[str] = "dummy"
    settles_receipts: ClassVar[bool] = True
    supports_refunds: ClassVar[bool] = True
    signature_fields: ClassVar[frozenset[str]] = frozenset({"sig"})

    def __init__(
        self,
        *,
        payment_url: str | None = None,
        states: MutableMapping[tuple[str, int], InvoiceState] | None = None,
    ) -> None:
        self.payment_url = payment_url or DEFAULT_PAYMENT_URL
        self.states = _STATES if states is None else states
        self.refunds = _REFUNDS

    @staticmethod
    def _secret(account: ProviderAccount) -> str:
        secret = account.secrets.get(SECRET_KEY)
        if not secret:
            raise ProviderConfigError(f"The account has no {SECRET_KEY} set", code="missing_secret")
        return secret

    def issue_invoice(self, account: ProviderAccount, request: InvoiceRequest) -> IssuedInvoice:
        """A link ``<payment_url>?inv=..&sum=..&sig=..``. Raises ProviderConfigError when
        ``password2`` is missing or the amount is not positive."""
        if request.amount <= 0:
            raise ProviderConfigError("Amount must be positive", code="bad_amount")
        amount = _amount_text(request.amount)
        inv = str(request.invoice_id)
        # The custom fields travel with the buyer, as a real provider's do (Robokassa's Shp_), so
        # that its payment page can echo them in the callback; the link's signature covers them.
        extra = dict(request.extra)
        sig = _sign(self._secret(account), "pay", inv, amount, *_extra_parts(extra))
        query = urlencode(
            {
                "inv": inv,
                "sum": amount,
                **{EXTRA_PREFIX + key: value for key, value in sorted(extra.items())},
                "sig": sig,
            }
        )
        return IssuedInvoice(
            invoice_id=request.invoice_id,
            amount=Decimal(amount),
            payment_url=f"{self.payment_url}?{query}",
            expires_at=request.expires_at,
            is_test=account.test_mode,
            receipt_json=None,
            form_action=self.payment_url,
        )

    def callback_params(
        self,
        account: ProviderAccount,
        invoice_id: int,
        amount: Decimal,
        extra: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """The signed callback fields a "payment" of ``amount`` would send. Raises
        ProviderConfigError when ``password2`` is missing."""
        extra = extra or {}
        inv, total = str(invoice_id), _amount_text(amount)
        sig = _sign(self._secret(account), "result", inv, total, *_extra_parts(extra))
        fields = {"inv": inv, "sum": total, "sig": sig}
        fields.update({EXTRA_PREFIX + key: value for key, value in extra.items()})
        return fields

    def payment_page_request(
        self, account: ProviderAccount, params: Mapping[str, str]
    ) -> tuple[int, Decimal, dict[str, str]] | None:
        """The (invoice id, amount, custom fields) of a buyer's visit to the payment page
        (``issue_invoice``'s link), or None when its signature does not hold. Never raises."""
        invoice_id = self.callback_invoice_id(params)
        raw_sum = params.get("sum") or ""
        secret = account.secrets.get(SECRET_KEY)
        if invoice_id is None or not _AMOUNT.fullmatch(raw_sum) or not secret:
            return None
        extra = {
            key[len(EXTRA_PREFIX) :]: value
            for key, value in params.items()
            if key.startswith(EXTRA_PREFIX)
        }
        expected = _sign(secret, "pay", params["inv"], raw_sum, *_extra_parts(extra))
        if not hmac.compare_digest(expected.encode(), (params.get("sig") or "").lower().encode()):
            return None
        return invoice_id, Decimal(raw_sum), extra

    def callback_invoice_id(self, params: Mapping[str, str]) -> int | None:
        """The ``inv`` field as an int, or None. Never raises."""
        raw = params.get("inv")
        return int(raw) if raw is not None and _INV_ID.fullmatch(raw) else None

    def verify_callback(
        self,
        account: ProviderAccount,
        params: Mapping[str, str],
        *,
        expected_amount: Decimal | None,
    ) -> CallbackVerdict:
        """Checks ``sig`` with ``password2`` and the amount. Returns a verdict with the same
        refusal codes as Robokassa's (missing_field, bad_invoice_id, bad_amount,
        not_configured, bad_signature, amount_mismatch). Never raises."""
        invoice_id = self.callback_invoice_id(params)
        raw_sum = params.get("sum")
        amount = Decimal(raw_sum) if raw_sum and _AMOUNT.fullmatch(raw_sum) else None
        extra = {
            key[len(EXTRA_PREFIX) :]: value
            for key, value in params.items()
            if key.startswith(EXTRA_PREFIX)
        }

        def refuse(code: str, reason: str) -> CallbackVerdict:
            return CallbackVerdict(
                accepted=False,
                invoice_id=invoice_id,
                amount=amount,
                is_test=account.test_mode,
                reason_code=code,
                reason=reason,
                extra=extra,
                raw_amount=raw_sum,
            )

        if not all(params.get(name) for name in ("inv", "sum", "sig")):
            return refuse("missing_field", "inv, sum and sig are required")
        if invoice_id is None:
            return refuse("bad_invoice_id", "inv is not an integer")
        if amount is None or amount <= 0:
            return refuse("bad_amount", "sum is not a positive decimal number")
        secret = account.secrets.get(SECRET_KEY)
        if not secret:
            return refuse("not_configured", f"The account has no {SECRET_KEY} set")
        expected_sig = _sign(secret, "result", params["inv"], raw_sum or "", *_extra_parts(extra))
        if not hmac.compare_digest(expected_sig.encode(), params["sig"].lower().encode()):
            return refuse("bad_signature", "sig does not match")
        if expected_amount is not None and amount != expected_amount:
            return refuse("amount_mismatch", f"sum {amount} differs from the invoice amount")
        self.states[(account.login, invoice_id)] = InvoiceState(
            invoice_id=invoice_id,
            status=InvoiceStatus.PAID,
            amount=amount,
            paid_at=datetime.now(UTC),
            raw_code="paid",
        )
        return CallbackVerdict(
            accepted=True,
            invoice_id=invoice_id,
            amount=amount,
            is_test=account.test_mode,
            extra=extra,
            raw_amount=raw_sum,
            payment_method="dummy",
        )

    def acknowledge(self, verdict: CallbackVerdict) -> tuple[str, str]:
        """``("OK<id>", "text/plain")`` when accepted, else ``("ERROR <code>", ...)``."""
        if verdict.accepted and verdict.invoice_id is not None:
            return f"OK{verdict.invoice_id}", "text/plain"
        return f"ERROR {verdict.reason_code or 'refused'}", "text/plain"

    def fetch_invoice_state(self, account: ProviderAccount, invoice_id: int) -> InvoiceState:
        """The stored state (set by an accepted callback or ``set_state``) or PENDING.
        Never raises."""
        stored = self.states.get((account.login, invoice_id))
        if stored is not None and stored.operation_key is None:
            # Every paid dummy operation has a key to refund it by.
            return replace(stored, operation_key=f"dummy-{account.login}-{invoice_id}")
        if stored is not None:
            return stored
        return InvoiceState(
            invoice_id=invoice_id,
            status=InvoiceStatus.PENDING,
            amount=None,
            paid_at=None,
            raw_code="pending",
        )

    def set_state(self, account: ProviderAccount, state: InvoiceState) -> None:
        """Pretend the provider changed an invoice's state (e.g. paid with a lost callback)."""
        self.states[(account.login, state.invoice_id)] = state

    def send_settlement_receipt(
        self, account: ProviderAccount, request: SettlementReceiptRequest
    ) -> SettlementReceiptResult:
        """Registers the receipt at once; refuses one without a contact or a positive offset
        (``ProviderConfigError``), as a real cash register would. No network."""
        if not (request.email or request.phone):
            raise ProviderConfigError("The receipt needs an e-mail or a phone", code="no_contact")
        if request.amount <= 0 or request.receipt_id == request.origin_invoice_id:
            raise ProviderConfigError("Bad settlement receipt", code="bad_receipt")
        return SettlementReceiptResult(
            accepted=True, result_code="2", description="ok", status=ReceiptStatus.REGISTERED
        )

    def fetch_settlement_receipt_state(
        self, account: ProviderAccount, receipt_id: int
    ) -> SettlementReceiptResult:
        """Every receipt the dummy took is registered. Never raises."""
        return SettlementReceiptResult(
            accepted=True, result_code="2", description="ok", status=ReceiptStatus.REGISTERED
        )

    def refund_create(self, account: ProviderAccount, request: RefundRequest) -> RefundCreated:
        """Accepts any refund of a keyed operation with a positive amount; no network."""
        if not request.operation_key or request.amount <= 0:
            raise ProviderConfigError("Bad refund request", code="bad_refund")
        request_id = hmac.new(
            self._secret(account).encode(),
            f"refund:{request.operation_key}:{len(self.refunds)}".encode(),
            hashlib.sha256,
        ).hexdigest()[:32]
        self.refunds[request_id] = (request.operation_key, request.amount)
        return RefundCreated(request_id=request_id)

    def refund_state(self, account: ProviderAccount, request_id: str) -> RefundState:
        """Every refund the dummy took is finished."""
        known = self.refunds.get(request_id)
        if known is None:
            raise ProviderResponseError("No such refund", code="refund_not_found")
        return RefundState(request_id=request_id, status=RefundStatus.FINISHED, amount=known[1])
