"""The Robokassa adapter: ``BillingProvider`` over the pure helpers and the HTTP client."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo
from decimal import Decimal
from typing import ClassVar, Literal

import httpx

from billing_providers.base import (
    AccountField,
    BillingProvider,
    CabinetAddress,
    CallbackVerdict,
    InvoiceRequest,
    InvoiceState,
    InvoiceStatus,
    IssuedInvoice,
    ProviderAccount,
    ReceiptStatus,
    ReceiptSummary,
    RefundCreated,
    RefundRequest,
    RefundState,
    RefundStatus,
    SettlementReceiptRequest,
    SettlementReceiptResult,
)
from billing_providers.errors import (
    ProviderConfigError,
    ProviderResponseError,
    ProviderUnavailable,
)
from billing_providers.robokassa import account, consts
from billing_providers.robokassa.client import RefundClient, RobokassaClient
from billing_providers.robokassa.links import (
    check_invoice_id,
    clean_description,
    format_expiration,
    payment_fields,
    payment_url,
    shp_from_extra,
)
from billing_providers.robokassa.receipts import (
    build_receipt,
    encode_receipt,
    receipt_json,
    settlement_receipt_body,
    settlement_status_body,
)
from billing_providers.robokassa.receipts import receipt_summary as read_receipt_summary
from billing_providers.robokassa.refunds import REFUND_LABELS, refund_payload, refund_token
from billing_providers.robokassa.signatures import (
    Base64Alphabet,
    ShpOrdering,
    format_out_sum,
    hex_digest,
    op_state_signature_base,
    payment_signature_base,
)
from billing_providers.robokassa.webhooks import (
    DEFAULT_ORDERINGS,
    acknowledgement,
    callback_invoice_id,
    parse_amount,
    verify_result_callback,
    verify_success_redirect,
)

# OpStateExt State/Code (§6) → our status. 20 (hold) is UNCERTAIN in the spec.
STATE_STATUSES: dict[str, InvoiceStatus] = {
    "5": InvoiceStatus.PENDING,
    "10": InvoiceStatus.CANCELLED,
    "20": InvoiceStatus.HELD,
    "50": InvoiceStatus.PROCESSING,
    "60": InvoiceStatus.REFUNDED,
    "80": InvoiceStatus.SUSPENDED,
    "100": InvoiceStatus.PAID,
}


def _secret(account: ProviderAccount, key: str) -> str:
    value = account.secrets.get(key)
    if not value:
        raise ProviderConfigError(f"The shop has no {key} set", code="missing_secret")
    return value


def _algorithm(account: ProviderAccount) -> str:
    algorithm = account.hash_algorithm.lower()
    if algorithm not in consts.HASH_ALGORITHMS:
        raise ProviderConfigError(
            f"Unsupported hash algorithm {account.hash_algorithm!r}",
            code="unknown_hash_algorithm",
        )
    return algorithm


class RobokassaProvider(BillingProvider):
    """Robokassa. Options for points the spec marks UNCERTAIN:

    ``callback_shp_orderings``: Shp sort orders accepted on callbacks (ordinal and
    case-insensitive by default; they agree for our own lowercase names).
    ``refuse_test_callbacks_when_live``: refuse ``IsTest=1`` notifications for an account not in
    test mode (default True). ``op_state_test_passwords``: sign OpStateExt with the test
    Password #2 in test mode (default False: OpStateExt has no test switch, the live
    Password #2 is used). ``op_state_method``: GET (the documented link) or POST.
    ``expiration_timezone``: the zone ``ExpirationDate`` is written in (Moscow).
    ``fiscal_base64_alphabet``: second-receipt base64 alphabet (URL-safe, like the SDK).
    ``refund_base_url``: the Refund API's host; by default Robokassa's own
    (services.robokassa.ru), or the same host as ``api_base_url`` when that is not Robokassa's
    (a sandbox or a fake serves both).
    """

    slug: ClassVar[str] = "robokassa"
    settles_receipts: ClassVar[bool] = True
    tells_unused_numbers: ClassVar[bool] = True  # OpStateExt result code 3
    signature_fields: ClassVar[frozenset[str]] = frozenset({"signaturevalue"})
    supports_refunds: ClassVar[bool] = True
    refund_secret: ClassVar[str | None] = consts.PASSWORD3
    account_fields: ClassVar[tuple[AccountField, ...]] = account.ACCOUNT_FIELDS
    cabinet_addresses: ClassVar[tuple[CabinetAddress, ...]] = account.CABINET_ADDRESSES
    connects_by_oauth: ClassVar[bool] = account.CONNECTS_BY_OAUTH
    account_block: ClassVar[str] = account.ACCOUNT_BLOCK

    def __init__(
        self,
        *,
        payment_url: str = consts.PAYMENT_URL,
        api_base_url: str = consts.API_BASE_URL,
        fiscal_base_url: str = consts.FISCAL_BASE_URL,
        http_client: httpx.Client | None = None,
        timeout: float = 10.0,
        callback_shp_orderings: Sequence[ShpOrdering] = DEFAULT_ORDERINGS,
        refuse_test_callbacks_when_live: bool = True,
        op_state_test_passwords: bool = False,
        op_state_method: Literal["GET", "POST"] = "GET",
        expiration_timezone: tzinfo = consts.MOSCOW_TZ,
        fiscal_base64_alphabet: Base64Alphabet = "urlsafe",
        refund_base_url: str | None = None,
    ) -> None:
        self.payment_url = payment_url
        self.client = RobokassaClient(
            api_base_url=api_base_url,
            fiscal_base_url=fiscal_base_url,
            http_client=http_client,
            timeout=timeout,
            op_state_method=op_state_method,
        )
        self.callback_shp_orderings = tuple(callback_shp_orderings)
        self.refuse_test_callbacks_when_live = refuse_test_callbacks_when_live
        self.op_state_test_passwords = op_state_test_passwords
        self.expiration_timezone = expiration_timezone
        self.fiscal_base64_alphabet: Base64Alphabet = fiscal_base64_alphabet
        if refund_base_url is None:
            own_api = api_base_url.rstrip("/") == consts.API_BASE_URL
            refund_base_url = consts.REFUND_BASE_URL if own_api else api_base_url
        self.refunds = RefundClient(self.client, base_url=refund_base_url)

    def issue_invoice(self, account: ProviderAccount, request: InvoiceRequest) -> IssuedInvoice:
        """Sign the payment request (test passwords and ``IsTest=1`` in test mode; ``Receipt``
        when the account fiscalizes). No network.

        Returns an ``IssuedInvoice`` with a GET link and the same fields for a POST form.
        Raises ProviderConfigError: no login, missing password, unknown hash algorithm, bad
        amount or InvId, bad ``extra``, naive ``expires_at``, missing receipt when
        fiscalization is on, or a receipt amount different from the invoice amount.
        """
        if not account.login:
            raise ProviderConfigError("The shop has no MerchantLogin", code="missing_login")
        is_test = account.test_mode
        password1 = _secret(account, consts.TEST_PASSWORD1 if is_test else consts.PASSWORD1)
        algorithm = _algorithm(account)
        inv_id = check_invoice_id(request.invoice_id)
        out_sum = format_out_sum(request.amount)
        shp = shp_from_extra(request.extra)
        expiration = format_expiration(request.expires_at, self.expiration_timezone)

        receipt_text: str | None = None
        encoded_receipt: str | None = None
        if account.fiscalization:
            if request.receipt is None:
                raise ProviderConfigError(
                    "The shop fiscalizes payments: a receipt is required",
                    code="receipt_required",
                )
            if request.receipt.amount != request.amount:
                raise ProviderConfigError(
                    "The receipt amount differs from the invoice amount",
                    code="receipt_amount_mismatch",
                )
            receipt_text = receipt_json(build_receipt(request.receipt))
            encoded_receipt = encode_receipt(receipt_text)

        signature = hex_digest(
            algorithm,
            payment_signature_base(
                login=account.login,
                out_sum=out_sum,
                inv_id=inv_id,
                password1=password1,
                receipt=encoded_receipt,
                shp=shp,
            ),
        )
        fields = payment_fields(
            login=account.login,
            out_sum=out_sum,
            inv_id=inv_id,
            description=clean_description(request.description),
            signature=signature,
            culture=request.culture,
            expiration=expiration,
            email=request.email,
            receipt=encoded_receipt,
            is_test=is_test,
            shp=shp,
        )
        return IssuedInvoice(
            invoice_id=request.invoice_id,
            amount=Decimal(out_sum),
            payment_url=payment_url(self.payment_url, fields),
            expires_at=request.expires_at,
            is_test=is_test,
            receipt_json=receipt_text,
            form_action=self.payment_url,
            form_fields=tuple(fields),
        )

    def callback_invoice_id(self, params: Mapping[str, str]) -> int | None:
        """The ``InvId`` of an unverified ResultURL notification, or None. Never raises."""
        return callback_invoice_id(params)

    def verify_callback(
        self,
        account: ProviderAccount,
        params: Mapping[str, str],
        *,
        expected_amount: Decimal | None,
    ) -> CallbackVerdict:
        """Verify a ResultURL notification (all fields as received, GET or POST merged into
        one mapping). Password #2, or test Password #2 for ``IsTest=1`` (refused for a live
        account unless configured otherwise: build the account with ``test_mode=True`` for an
        invoice issued in test mode). ``OutSum`` is compared numerically with
        ``expected_amount``.

        Returns a verdict; refusal codes: missing_field, bad_invoice_id, bad_amount,
        unexpected_test, not_configured, bad_signature, amount_mismatch. Never raises.
        """
        return verify_result_callback(
            account,
            params,
            expected_amount=expected_amount,
            orderings=self.callback_shp_orderings,
            refuse_test_when_live=self.refuse_test_callbacks_when_live,
        )

    def verify_success_redirect(
        self,
        account: ProviderAccount,
        params: Mapping[str, str],
        *,
        expected_amount: Decimal | None = None,
    ) -> CallbackVerdict:
        """Check a SuccessURL redirect: ``OutSum:InvId:Password#1[:Shp_...]`` (test Password #1
        for ``IsTest=1``), ``OutSum`` compared numerically with ``expected_amount`` when given.
        For the buyer's page only: it proves nothing about payment. Returns a verdict; never
        raises."""
        return verify_success_redirect(
            account,
            params,
            expected_amount=expected_amount,
            orderings=self.callback_shp_orderings,
        )

    def receipt_summary(self, receipt_json: str) -> ReceiptSummary | None:
        """The stored ``Receipt`` in neutral words (``receipts.receipt_summary``)."""
        return read_receipt_summary(receipt_json) if receipt_json else None

    def acknowledge(self, verdict: CallbackVerdict) -> tuple[str, str]:
        """``("OK<InvId>", "text/plain")`` for an accepted verdict, which stops Robokassa's
        retries; ``("ERROR <code>: <reason>", "text/plain")`` otherwise. Never raises."""
        return acknowledgement(verdict)

    def fetch_invoice_state(self, account: ProviderAccount, invoice_id: int) -> InvoiceState:
        """OpStateExt (§6), signed ``MerchantLogin:InvoiceID:Password#2``.

        Returns the state (``NOT_FOUND`` for result code 3, which is also what an invoice
        looks like before the buyer submits payment details). Raises ProviderConfigError
        (missing password, code 1 bad signature, code 2 shop not found), ProviderUnavailable
        (network, timeout, 5xx, code 1000), ProviderResponseError (bad XML, code 4: a test
        and a live operation share the InvId, other codes).
        """
        use_test = account.test_mode and self.op_state_test_passwords
        password2 = _secret(account, consts.TEST_PASSWORD2 if use_test else consts.PASSWORD2)
        inv_id = check_invoice_id(invoice_id)
        signature = hex_digest(
            _algorithm(account),
            op_state_signature_base(login=account.login, inv_id=inv_id, password2=password2),
        )
        answer = self.client.op_state_ext(
            login=account.login, invoice_id=invoice_id, signature=signature
        )
        code = answer.result_code
        if code == consts.RESULT_NO_OPERATION:
            return InvoiceState(
                invoice_id=invoice_id,
                status=InvoiceStatus.NOT_FOUND,
                amount=None,
                paid_at=None,
                raw_code=None,
            )
        if code == consts.RESULT_BAD_SIGNATURE:
            raise ProviderConfigError(
                "Robokassa rejected the OpStateExt signature: check Password #2 and the hash "
                "algorithm",
                code="bad_signature",
            )
        if code == consts.RESULT_SHOP_NOT_FOUND:
            raise ProviderConfigError(
                "Robokassa does not know this shop or it is not activated",
                code="shop_not_found",
            )
        if code == consts.RESULT_DUPLICATE_OPERATION:
            raise ProviderResponseError(
                "Robokassa has two operations with this InvoiceID (a test and a live one?)",
                code="duplicate_invoice",
            )
        if code == consts.RESULT_INTERNAL_ERROR:
            raise ProviderUnavailable("Robokassa reported an internal error", code="internal")
        if code != consts.RESULT_OK or answer.state_code is None:
            raise ProviderResponseError(
                f"Unexpected OpStateExt result code {code!r}", code="unexpected_result"
            )
        status = STATE_STATUSES.get(answer.state_code, InvoiceStatus.UNKNOWN)
        return InvoiceState(
            invoice_id=invoice_id,
            status=status,
            amount=parse_amount(answer.out_sum) or parse_amount(answer.inc_sum),
            paid_at=answer.state_date if status is InvoiceStatus.PAID else None,
            raw_code=answer.state_code,
            state_date=answer.state_date,
            payment_method=answer.payment_method,
            operation_key=answer.op_key,
            extra=answer.user_fields,
        )

    def send_settlement_receipt(
        self, account: ProviderAccount, request: SettlementReceiptRequest
    ) -> SettlementReceiptResult:
        """Send the second (``full_payment``) receipt (§5.3), signed with the live Password #1.

        Returns the result: code 0 or 1 ACCEPTED, 2 REGISTERED, 3 FAILED (``accepted`` False).
        Raises ProviderConfigError (missing password, bad request: no contact, reused id),
        ProviderUnavailable (network, 5xx, code 1000), ProviderResponseError (unexpected
        answer).
        """
        body = settlement_receipt_body(
            request,
            merchant_login=account.login,
            password1=_secret(account, consts.PASSWORD1),
            algorithm=_algorithm(account),
            alphabet=self.fiscal_base64_alphabet,
        )
        return _receipt_result(self.client.attach_second_receipt(body), "Receipt/Attach")

    def fetch_settlement_receipt_state(
        self, account: ProviderAccount, receipt_id: int
    ) -> SettlementReceiptResult:
        """Receipt/Status for the second receipt's own ``id`` (fiscal.md §2.3), signed like
        Attach. Returns the result with the fiscal attributes once registered (code 2); raises
        as ``send_settlement_receipt``."""
        body = settlement_status_body(
            receipt_id=receipt_id,
            merchant_login=account.login,
            password1=_secret(account, consts.PASSWORD1),
            algorithm=_algorithm(account),
            alphabet=self.fiscal_base64_alphabet,
        )
        return _receipt_result(self.client.second_receipt_status(body), "Receipt/Status")

    def refund_create(self, account: ProviderAccount, request: RefundRequest) -> RefundCreated:
        """``Refund/Create`` (§8): the compact payload in an HS256 JWT keyed with Password #3,
        POSTed as a JSON string. Test payments cannot be refunded (fiscal §3).

        Returns the ``requestId``. Raises ProviderConfigError (no Password #3:
        ``missing_secret``; a test shop: ``test_refund``; bad request), ProviderResponseError
        ``refund_refused`` (``success: false``; the message is Robokassa's, e.g.
        ``NotEnoughOperationFunds``), ProviderUnavailable (no answer: do not retry, check the
        cabinet)."""
        if account.test_mode:
            raise ProviderConfigError(
                "Robokassa's Refund API does not refund test payments", code="test_refund"
            )
        password3 = _secret(account, consts.PASSWORD3)
        token = refund_token(refund_payload(request), password3)
        answer = self.refunds.create(token)
        request_id = answer.get("requestId")
        if answer.get("success") is True and isinstance(request_id, str) and request_id:
            return RefundCreated(request_id=request_id)
        message = answer.get("message")
        raise ProviderResponseError(
            str(message)[:200] if message else "Robokassa refused the refund",
            code="refund_refused",
        )

    def refund_state(self, account: ProviderAccount, request_id: str) -> RefundState:
        """``Refund/GetState?id=`` (§8): ``processing``, ``finished`` or ``canceled``. Raises
        ProviderResponseError ``refund_not_found`` for an id Robokassa does not know,
        ProviderUnavailable (network, 5xx)."""
        answer = self.refunds.state(request_id)
        label = answer.get("label")
        if not isinstance(label, str):
            raise ProviderResponseError(
                "Robokassa knows no such refund request", code="refund_not_found"
            )
        amount = answer.get("amount")
        return RefundState(
            request_id=str(answer.get("requestId") or request_id),
            status=REFUND_LABELS.get(label.lower(), RefundStatus.UNKNOWN),
            amount=parse_amount(str(amount)) if amount is not None else None,
            raw_label=label,
        )


_RECEIPT_STATUSES: dict[str, ReceiptStatus] = {
    "0": ReceiptStatus.ACCEPTED,
    "1": ReceiptStatus.ACCEPTED,
    "2": ReceiptStatus.REGISTERED,
    "3": ReceiptStatus.FAILED,
}
_FISCAL_FIELDS = (
    "FnNumber",
    "FiscalDocumentNumber",
    "FiscalDocumentAttribute",
    "FiscalDate",
    "FiscalType",
)


def _receipt_result(answer: Mapping[str, object], call: str) -> SettlementReceiptResult:
    # Attach answers ResultCode/ResultDescription, Status answers Code/Description (§2.3).
    code = str(answer.get("ResultCode", answer.get("Code", "")))
    description = answer.get("ResultDescription", answer.get("Description"))
    op_key = answer.get("OpKey")
    if code == "1000":
        raise ProviderUnavailable("Robokassa reported an internal error", code="internal")
    status = _RECEIPT_STATUSES.get(code)
    if status is None:
        raise ProviderResponseError(
            f"Unexpected {call} result code {code!r}", code="unexpected_result"
        )
    fiscal = {
        name: str(answer[name]) for name in _FISCAL_FIELDS if answer.get(name) not in (None, "")
    }
    return SettlementReceiptResult(
        accepted=status is not ReceiptStatus.FAILED,
        result_code=code,
        description=str(description)[:500] if description is not None else None,
        operation_key=str(op_key) if op_key is not None else None,
        status=status,
        fiscal=fiscal if status is ReceiptStatus.REGISTERED else {},
    )
