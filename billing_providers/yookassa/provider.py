"""The YooKassa adapter: ``BillingProvider`` over the pure helpers and the HTTP client.

Unlike Robokassa, issuing an invoice is a network call (``POST /payments``) and YooKassa names
the payment itself, so the core must keep the returned ``payment_id`` (``YooKassaIssuedInvoice``)
and hand it back through ``references`` for status checks, refunds and settlement receipts.
Every POST carries an Idempotence-Key derived from our own ids (or given by the core), so a
repeat after a crash or a timeout returns the same object instead of creating a second one.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Protocol

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
    OAuthConnected,
    ProviderAccount,
    ReceiptStatus,
    ReceiptSummary,
    RefundCreated,
    RefundRequest,
    RefundState,
    SettlementReceiptRequest,
    SettlementReceiptResult,
    ShopCheck,
)
from billing_providers.errors import (
    ProviderConfigError,
    ProviderError,
    ProviderResponseError,
)
from billing_providers.yookassa import consts
from billing_providers.yookassa.account import (
    ACCOUNT_BLOCK,
    ACCOUNT_FIELDS,
    CABINET_ADDRESSES,
    CONNECTS_BY_OAUTH,
)
from billing_providers.yookassa.client import (
    Credentials,
    NotFound,
    RequestRefused,
    Sleep,
    YooKassaClient,
    parse_datetime,
)
from billing_providers.yookassa.oauth import OAuthClient
from billing_providers.yookassa.receipts import money, parse_money, payment_receipt, receipt_json
from billing_providers.yookassa.receipts import receipt_summary as read_receipt_summary
from billing_providers.yookassa.receipts import settlement_receipt as settlement_receipt_body
from billing_providers.yookassa.refunds import refund_body, refund_status
from billing_providers.yookassa.states import (
    ShopInfo,
    payment_state,
    receipt_result,
)
from billing_providers.yookassa.states import (
    shop_info as parse_shop_info,
)
from billing_providers.yookassa.webhooks import (
    ACKNOWLEDGED_REFUSALS,
    Network,
    acknowledgement,
    notification_params,
    parse_invoice_id,
    parse_networks,
    parse_notification,
    payment_verdict,
    refusal,
    source_allowed,
)

_EXTRA_KEY = re.compile(consts.EXTRA_KEY_PATTERN)
_EXTRA_VALUE = re.compile(consts.EXTRA_VALUE_PATTERN)


class ReferenceLookup(Protocol):
    """The core's memory of YooKassa's ids (YooKassa cannot be searched by our ids, §2.1)."""

    def payment_id(self, invoice_id: int) -> str | None:
        """The ``payment_id`` stored when the invoice was issued, or None."""

    def receipt_id(self, receipt_number: int) -> str | None:
        """The ``rt-…`` id (``SettlementReceiptResult.operation_key``) stored when the
        settlement receipt with our ``receipt_number`` was sent, or None."""


@dataclass(frozen=True)
class YooKassaIssuedInvoice(IssuedInvoice):
    """``IssuedInvoice`` plus YooKassa's id of the payment (keep it with the invoice), the key
    it was created with and its status right after creation."""

    payment_id: str = ""
    idempotence_key: str = ""
    status: str = ""


def credentials_for(account: ProviderAccount) -> Credentials:
    """Bearer with the OAuth token when the shop was connected by OAuth, else Basic."""
    token = account.secrets.get(consts.OAUTH_TOKEN, "")
    return Credentials(
        shop_id=account.login,
        secret_key="" if token else account.secrets.get(consts.SECRET_KEY, ""),
        oauth_token=token,
    )


def _key(namespace: str, kind: str, number: int | str) -> str:
    key = f"{namespace}-{kind}-{number}"
    if len(key) > consts.IDEMPOTENCE_KEY_MAX_LENGTH:
        raise ProviderConfigError("The idempotence namespace is too long", code="bad_option")
    return key


class YooKassaProvider(BillingProvider):
    """YooKassa API v3. Options:

    ``return_url``: where YooKassa sends the buyer back, ``{invoice_id}`` replaced (required
    to issue). ``notification_networks``: the sender allow-list (§6.2 by default; tests name the
    fake's address). ``references``: the core's lookup of stored YooKassa ids. Without it
    ``fetch_invoice_state`` scans the payments of the last ``lookup_days`` (YooKassa has no
    metadata search) and settlement receipts cannot be checked. ``idempotence_namespace``: a
    prefix of the derived keys, unique per installation (keys live 24 h at YooKassa). ``capture_held``:
    capture a payment found ``waiting_for_capture`` (we always ask for one-stage payments; this
    only rescues a shop whose settings force two stages). ``oauth_client_id`` /
    ``oauth_client_secret``: the partner app (§7), for ``oauth_client()``.
    """

    slug: ClassVar[str] = "yookassa"
    settles_receipts: ClassVar[bool] = True
    supports_refunds: ClassVar[bool] = True
    refund_secret: ClassVar[str | None] = None
    refunds_in_test_mode: ClassVar[bool] = True
    tells_unused_numbers: ClassVar[bool] = False
    signature_fields: ClassVar[frozenset[str]] = frozenset()
    # New for the core: issuing is a network call (do it outside row locks, key stored first),
    # and refusals with these reason codes are answered 200 (genuine, but nothing to record).
    issues_over_network: ClassVar[bool] = True
    account_fields: ClassVar[tuple[AccountField, ...]] = ACCOUNT_FIELDS
    # CONTRACT.md: a YooKassa partner's shop is the partners API's "yookassa" object.
    account_block: ClassVar[str] = ACCOUNT_BLOCK
    cabinet_addresses: ClassVar[tuple[CabinetAddress, ...]] = CABINET_ADDRESSES
    connects_by_oauth: ClassVar[bool] = CONNECTS_BY_OAUTH
    uses_references: ClassVar[bool] = True
    acknowledged_refusals: ClassVar[frozenset[str]] = ACKNOWLEDGED_REFUSALS

    def __init__(
        self,
        *,
        api_base_url: str = consts.API_BASE_URL,
        oauth_base_url: str = consts.OAUTH_BASE_URL,
        return_url: str = "",
        http_client: httpx.Client | None = None,
        timeout: float = 10.0,
        max_attempts: int = 3,
        sleep: Sleep = time.sleep,
        notification_networks: Sequence[str] = consts.NOTIFICATION_NETWORKS,
        references: ReferenceLookup | None = None,
        idempotence_namespace: str = "fp",
        capture_held: bool = True,
        lookup_days: int = 35,
        lookup_max_pages: int = 20,
        oauth_client_id: str = "",
        oauth_client_secret: str = "",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = YooKassaClient(
            api_base_url=api_base_url,
            http_client=http_client,
            timeout=timeout,
            max_attempts=max_attempts,
            sleep=sleep,
        )
        self.return_url = return_url
        self.networks: tuple[Network, ...] = parse_networks(
            [notification_networks]
            if isinstance(notification_networks, str)
            else notification_networks
        )
        self.references = references
        self.namespace = idempotence_namespace
        self.capture_held = capture_held
        self.lookup_days = lookup_days
        self.lookup_max_pages = lookup_max_pages
        self._oauth = (oauth_base_url, oauth_client_id, oauth_client_secret, http_client, timeout)
        self._sleep = sleep
        self._clock = clock

    def oauth_client(self) -> OAuthClient:
        """The partner app's OAuth client (§7). Raises ProviderConfigError when not set up."""
        base_url, client_id, client_secret, http_client, timeout = self._oauth
        return OAuthClient(
            client_id=client_id,
            client_secret=client_secret,
            oauth_base_url=base_url,
            http_client=http_client,
            timeout=timeout,
            sleep=self._sleep,
            clock=self._clock,
        )

    # issuing (§2) -----------------------------------------------------------------------------

    def invoice_idempotence_key(self, invoice_id: int) -> str:
        """The key ``issue_invoice`` uses for ``invoice_id`` (the same on every retry)."""
        return _key(self.namespace, "inv", invoice_id)

    def payment_body(self, account: ProviderAccount, request: InvoiceRequest) -> dict[str, Any]:
        """The ``POST /payments`` body for ``request`` (§2.1, example §9a). Pure. Raises
        ProviderConfigError for a request YooKassa would refuse."""
        return_template = request.return_url or self.return_url
        if not return_template:
            raise ProviderConfigError("No return URL is configured", code="missing_return_url")
        if not 0 < request.invoice_id <= consts.INVOICE_ID_MAX:
            raise ProviderConfigError("The invoice id is out of range", code="bad_invoice_id")
        if request.expires_at.tzinfo is None:
            raise ProviderConfigError("expires_at must be timezone-aware", code="naive_datetime")
        metadata = {consts.INVOICE_ID_KEY: str(request.invoice_id)}
        for key, value in request.extra.items():
            if key == consts.INVOICE_ID_KEY or not _EXTRA_KEY.fullmatch(key):
                raise ProviderConfigError(f"Bad extra field name {key!r}", code="bad_extra")
            if not _EXTRA_VALUE.fullmatch(value):
                raise ProviderConfigError(f"Bad value of extra field {key!r}", code="bad_extra")
            metadata[key] = value
        if len(metadata) > consts.METADATA_MAX_KEYS:
            raise ProviderConfigError("Too many extra fields", code="bad_extra")
        return_url = return_template.replace("{invoice_id}", str(request.invoice_id))
        if len(return_url) > consts.RETURN_URL_MAX_LENGTH:
            raise ProviderConfigError("The return URL is too long", code="bad_option")
        description = " ".join(request.description.split())[: consts.DESCRIPTION_MAX_LENGTH]
        body: dict[str, Any] = {
            "amount": money(request.amount),
            "capture": True,  # one-stage: ``capture`` defaults to false (§2.1, §10)
            "confirmation": {
                "type": "redirect",
                "return_url": return_url,
                "locale": consts.LOCALES.get(request.culture, "ru_RU"),
            },
            "description": description,
            "metadata": metadata,
        }
        if account.fiscalization:
            if request.receipt is None:
                raise ProviderConfigError(
                    "The shop sends receipts through YooKassa: a receipt is required",
                    code="receipt_required",
                )
            if request.receipt.amount != request.amount:
                raise ProviderConfigError(
                    "The receipt amount differs from the invoice amount",
                    code="receipt_amount_mismatch",
                )
            body["receipt"] = payment_receipt(
                request.receipt, email=request.email, phone=request.phone
            )
        return body

    def issue_invoice(self, account: ProviderAccount, request: InvoiceRequest) -> IssuedInvoice:
        """Create the payment (network: ``POST /payments``) with the key derived from the
        invoice id; see ``issue_invoice_with_key``."""
        return self.issue_invoice_with_key(
            account,
            request,
            idempotence_key=request.idempotence_key
            or self.invoice_idempotence_key(request.invoice_id),
        )

    def issue_invoice_with_key(
        self, account: ProviderAccount, request: InvoiceRequest, *, idempotence_key: str
    ) -> YooKassaIssuedInvoice:
        """Create the payment and return its confirmation URL and YooKassa id. A repeat with
        the same key and request (within 24 h) returns the same payment.

        Raises ProviderConfigError (bad request or settings; ``RequestRefused`` when YooKassa
        refused: credentials, a missing receipt, a key reused with other data),
        ProviderUnavailable (no answer after the repeats: the payment may exist; repeat with the
        same key), ProviderResponseError (an answer without a confirmation URL)."""
        body = self.payment_body(account, request)
        try:
            payment = self.client.create_payment(
                credentials_for(account), body, idempotence_key=idempotence_key
            )
        except RequestRefused as exc:
            if exc.status == 400 and (exc.parameter or "").startswith("receipt.customer"):
                # The shop's register wants another contact (Чеки от ЮKassa: an e-mail, §4.1):
                # the core asks the buyer again instead of failing the page.
                raise RequestRefused(
                    "YooKassa refused the buyer's contact for the receipt",
                    code="bad_contact",
                    status=exc.status,
                    parameter=exc.parameter,
                    description=exc.description,
                ) from None
            raise
        payment_id = payment.get("id")
        confirmation = payment.get("confirmation")
        url = confirmation.get("confirmation_url") if isinstance(confirmation, dict) else None
        if not isinstance(payment_id, str) or not isinstance(url, str) or not url:
            raise ProviderResponseError(
                "The payment has no id or confirmation URL", code="bad_response"
            )
        created = parse_datetime(payment.get("created_at")) or self._clock()
        receipt = body.get("receipt")
        return YooKassaIssuedInvoice(
            invoice_id=request.invoice_id,
            amount=request.amount,
            payment_url=url,
            # The confirmation page lapses after about an hour (§2.3), whatever we asked.
            expires_at=min(request.expires_at, created + consts.PENDING_LIFETIME),
            is_test=payment.get("test") is True,
            receipt_json=receipt_json(receipt) if receipt is not None else None,
            provider_reference=payment_id,
            payment_id=payment_id,
            idempotence_key=idempotence_key,
            status=str(payment.get("status") or ""),
        )

    # notifications (§6) -------------------------------------------------------------------------

    def receipt_summary(self, receipt_json: str) -> ReceiptSummary | None:
        """The stored payment receipt in neutral words (``receipts.receipt_summary``)."""
        return read_receipt_summary(receipt_json) if receipt_json else None

    def callback_fields(
        self, *, form: Mapping[str, Sequence[str]], body: bytes, remote_addr: str
    ) -> dict[str, str]:
        """The JSON body and the sender's address (``webhooks.notification_params``)."""
        return notification_params(body, remote_addr)

    def callback_invoice_id(self, params: Mapping[str, str]) -> int | None:
        """The invoice id the (unverified) notification body claims, or None. Never raises."""
        notification = parse_notification(params)
        return notification.invoice_id if notification is not None else None

    def verify_callback(
        self,
        account: ProviderAccount,
        params: Mapping[str, str],
        *,
        expected_amount: Decimal | None,
    ) -> CallbackVerdict:
        """Check a notification (``params`` from ``webhooks.notification_params``): the sender
        is in the allow-list, then the payment is read with the shop's credentials and judged on
        that answer alone (§6.2). Refusals: bad_source, bad_body, unknown_payment, foreign_shop,
        invoice_mismatch, unexpected_test, not_paid, amount_mismatch, not_configured,
        unavailable (answer non-200: YooKassa retries), ignored_event (refund and cancel events:
        answer 200). Never raises."""
        if not source_allowed(params.get(consts.REMOTE_ADDR_PARAM), self.networks):
            return refusal("bad_source", "The sender is not in YooKassa's address list")
        notification = parse_notification(params)
        if notification is None:
            return refusal("bad_body", "Not a YooKassa notification")
        claimed = notification.invoice_id
        if notification.object_type != "payment":
            return refusal(
                "ignored_event", f"{notification.event}: refunds are polled", invoice_id=claimed
            )
        try:
            payment = self._payment_settled(account, notification.object_id)
        except NotFound:
            return refusal(
                "unknown_payment",
                "YooKassa knows no such payment for this shop",
                invoice_id=claimed,
            )
        except ProviderConfigError as exc:
            return refusal("not_configured", exc.message, invoice_id=claimed)
        except ProviderError as exc:
            return refusal("unavailable", exc.message, invoice_id=claimed)
        return payment_verdict(
            payment,
            claimed_invoice_id=claimed,
            shop_id=account.login,
            test_mode=account.test_mode,
            expected_amount=expected_amount,
        )

    def _payment_settled(self, account: ProviderAccount, payment_id: str) -> dict[str, Any]:
        """The payment as YooKassa has it now; a held one is captured first (when allowed)."""
        credentials = credentials_for(account)
        payment = self.client.get_payment(credentials, payment_id)
        if self.capture_held and payment.get("status") == "waiting_for_capture":
            payment = self.client.capture_payment(
                credentials, payment_id, idempotence_key=_key(self.namespace, "cap", payment_id)
            )
        return payment

    def acknowledge(self, verdict: CallbackVerdict) -> tuple[str, str]:
        """A short text: YooKassa reads only the status (200 stops retries, §6.3)."""
        return acknowledgement(verdict)

    # status (§3) ----------------------------------------------------------------------------------

    def fetch_invoice_state(self, account: ProviderAccount, invoice_id: int) -> InvoiceState:
        """``GET /payments/{id}`` for the payment stored for ``invoice_id`` (``references``),
        or, when none is stored, found by scanning recent payments' metadata. ``NOT_FOUND`` when there is none.
        ``operation_key`` is the payment id (refunds need it). Raises ProviderConfigError
        (credentials), ProviderUnavailable, ProviderResponseError."""
        payment_id = self._payment_id(account, invoice_id)
        if payment_id is None:
            return InvoiceState(invoice_id, InvoiceStatus.NOT_FOUND, None, None, None)
        try:
            payment = self.client.get_payment(credentials_for(account), payment_id)
        except NotFound:
            return InvoiceState(invoice_id, InvoiceStatus.NOT_FOUND, None, None, None)
        return payment_state(invoice_id, payment)

    def fetch_payment_state(
        self, account: ProviderAccount, payment_id: str, *, invoice_id: int
    ) -> InvoiceState:
        """``fetch_invoice_state`` for a known payment id (no lookup)."""
        try:
            payment = self.client.get_payment(credentials_for(account), payment_id)
        except NotFound:
            return InvoiceState(invoice_id, InvoiceStatus.NOT_FOUND, None, None, None)
        return payment_state(invoice_id, payment)

    def _payment_id(self, account: ProviderAccount, invoice_id: int) -> str | None:
        # A payment created just before a crash has no stored id yet: search for it then.
        stored = self.references.payment_id(invoice_id) if self.references is not None else None
        return stored or self.find_payment_id(account, invoice_id)

    def find_payment_id(self, account: ProviderAccount, invoice_id: int) -> str | None:
        """Scan the shop's payments of the last ``lookup_days`` (newest first, at most
        ``lookup_max_pages`` pages of 100) for our invoice id in the metadata; a succeeded one
        wins over others. A fallback only: keep the id from ``issue_invoice`` instead."""
        since = self._clock() - timedelta(days=self.lookup_days)
        params = {
            "created_at.gte": since.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "limit": "100",
        }
        credentials = credentials_for(account)
        found: str | None = None
        for _page in range(self.lookup_max_pages):
            answer = self.client.list_payments(credentials, params)
            items = answer.get("items")
            if not isinstance(items, list):
                raise ProviderResponseError("The payment list has no items", code="bad_response")
            for item in items:
                if not isinstance(item, dict):
                    continue
                metadata = item.get("metadata")
                claimed = (
                    metadata.get(consts.INVOICE_ID_KEY) if isinstance(metadata, dict) else None
                )
                if parse_invoice_id(claimed) != invoice_id or not isinstance(item.get("id"), str):
                    continue
                if item.get("status") == "succeeded":
                    return str(item["id"])
                found = found or str(item["id"])
            cursor = answer.get("next_cursor")
            if not isinstance(cursor, str) or not cursor:
                break
            params = {**params, "cursor": cursor}
        return found

    # the buyer's contact, the shop check, OAuth (§4.1, §7) ---------------------------------------

    checks_shop_by_api: ClassVar[bool] = True

    def buyer_contact_kinds(self, account: ProviderAccount) -> tuple[str, ...]:
        """A shop whose receipts go through YooKassa needs the buyer's e-mail (Чеки от ЮKassa
        accept nothing else) or, with a third-party register, a phone (§4.1)."""
        return ("email", "phone") if account.fiscalization else ()

    def shop_check(self, account: ProviderAccount) -> ShopCheck:
        """``GET /me`` in neutral terms (``shop_info``). Raises as ``shop_info``."""
        info = self.shop_info(account)
        return ShopCheck(
            shop_id=info.shop_id,
            enabled=info.enabled,
            test=info.test,
            fiscalization=info.fiscalization,
            payment_methods=info.payment_methods,
            fiscal_provider=info.fiscal_provider,
        )

    def oauth_authorize_url(self, state: str) -> str:
        """YooKassa's consent page for the partner app (§7.1)."""
        return self.oauth_client().authorize_url(state)

    def oauth_connect(self, code: str) -> OAuthConnected:
        """The code exchanged for the shop's token (§7.2), then ``GET /me`` with it (§7.4): the
        shop id, test flag and fiscalization to store. Raises as ``OAuthClient.exchange_code``
        and ``shop_info``; ProviderResponseError when ``/me`` names no shop."""
        token = self.oauth_client().exchange_code(code)
        secrets = {consts.OAUTH_TOKEN: token.access_token}
        shop = self.shop_check(ProviderAccount(login="", secrets=secrets))
        if not shop.shop_id:
            raise ProviderResponseError("GET /me named no shop", code="bad_response")
        return OAuthConnected(
            login=shop.shop_id, secrets=secrets, shop=shop, expires_at=token.expires_at
        )

    def notifications_register(self, account: ProviderAccount, url: str) -> tuple[str, ...]:
        """``register_webhooks``: the token's payment and refund events at ``url`` (§6.4)."""
        hooks = self.register_webhooks(account, url)
        return tuple(str(hook.get("event") or "") for hook in hooks)

    # shop (§7.4) ----------------------------------------------------------------------------------

    def shop_info(self, account: ProviderAccount) -> ShopInfo:
        """``GET /me``: proves the credentials (connect check) and tells whether the shop is a
        test shop and whether YooKassa sends receipts. Raises as ``fetch_invoice_state``."""
        return parse_shop_info(self.client.me(credentials_for(account)))

    def register_webhooks(self, account: ProviderAccount, url: str) -> list[dict[str, Any]]:
        """Point the OAuth token's payment and refund notifications at ``url`` (§6.4), once per
        event, idempotently. Raises ProviderConfigError ``oauth_required`` for a shop connected
        by keys (its owner pastes the URL in the cabinet instead)."""
        return self.client.ensure_webhooks(
            credentials_for(account), url=url, key_prefix=f"{self.namespace}-wh"
        )

    # settlement receipts (§4.5) ---------------------------------------------------------------

    def send_settlement_receipt(
        self, account: ProviderAccount, request: SettlementReceiptRequest
    ) -> SettlementReceiptResult:
        """``POST /receipts`` offsetting the advance of the payment of
        ``request.origin_invoice_id``, keyed by ``request.receipt_id``: a resend of the same
        receipt within 24 h returns the same receipt. ``operation_key`` of the result is the
        ``rt-…`` id (keep it for ``fetch_settlement_receipt_state``). Raises
        ProviderConfigError (no payment for the invoice, bad request, no contact),
        ProviderUnavailable, ProviderResponseError."""
        payment_id = self._payment_id(account, request.origin_invoice_id)
        if payment_id is None:
            raise ProviderConfigError(
                "YooKassa has no payment for this invoice", code="missing_payment"
            )
        body = settlement_receipt_body(request, payment_id=payment_id)
        try:
            receipt = self.client.create_receipt(
                credentials_for(account),
                body,
                idempotence_key=_key(self.namespace, "rct", request.receipt_id),
            )
        except RequestRefused as exc:
            if exc.status != 400:
                raise
            return SettlementReceiptResult(
                accepted=False,
                result_code=exc.code,
                description=exc.description or exc.message,
                status=ReceiptStatus.FAILED,
            )
        return receipt_result(receipt)

    def fetch_settlement_receipt_state(
        self, account: ProviderAccount, receipt_id: int
    ) -> SettlementReceiptResult:
        """``GET /receipts/{rt-id}`` for our receipt number (through ``references``). Raises
        ProviderConfigError ``missing_reference`` when the core has no id for it, NotFound…"""
        reference = self.references.receipt_id(receipt_id) if self.references else None
        if not reference:
            raise ProviderConfigError(
                "The YooKassa id of this receipt is not known", code="missing_reference"
            )
        return receipt_result(self.client.get_receipt(credentials_for(account), reference))

    # refunds (§5) -----------------------------------------------------------------------------

    def refund_create(self, account: ProviderAccount, request: RefundRequest) -> RefundCreated:
        """``POST /refunds`` for the payment ``request.operation_key``. Give a
        ``YooKassaRefundRequest`` with the core's refund id as ``idempotence_key`` so a repeat
        returns the same refund (a plain ``RefundRequest`` gets a fresh key: never repeat it),
        and the buyer's contact for a partial refund's receipt. Test shops refund too (no money
        moves, §8).

        Returns the refund id. Raises ProviderResponseError ``refund_refused`` (400: not
        succeeded, more than is left, a receipt problem; the message names YooKassa's code and
        parameter), ProviderConfigError (credentials, bad request), ProviderUnavailable."""
        key = request.idempotence_key or _key(self.namespace, "rf", uuid.uuid4().hex)
        body = refund_body(request)
        try:
            refund = self.client.create_refund(credentials_for(account), body, idempotence_key=key)
        except RequestRefused as exc:
            if exc.status != 400:
                raise
            raise ProviderResponseError(
                f"YooKassa refused the refund: {exc.description or exc.message}"[:300],
                code="refund_refused",
            ) from None
        refund_id = refund.get("id")
        if not isinstance(refund_id, str) or not refund_id:
            raise ProviderResponseError("The refund answer has no id", code="bad_response")
        return RefundCreated(request_id=refund_id)

    def refund_state(self, account: ProviderAccount, request_id: str) -> RefundState:
        """``GET /refunds/{id}``: pending → PROCESSING, succeeded → FINISHED, canceled →
        CANCELED. Raises ProviderResponseError ``refund_not_found``, ProviderUnavailable."""
        try:
            refund = self.client.get_refund(credentials_for(account), request_id)
        except NotFound:
            raise ProviderResponseError(
                "YooKassa knows no such refund", code="refund_not_found"
            ) from None
        return RefundState(
            request_id=str(refund.get("id") or request_id),
            status=refund_status(refund),
            amount=parse_money(refund.get("amount")),
            raw_label=str(refund.get("status") or "") or None,
        )
