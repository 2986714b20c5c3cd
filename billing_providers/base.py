"""The provider-neutral interface: frozen dataclasses in and out, one small ABC.

Nothing here knows Django or the core. Money is ``decimal.Decimal`` (RUB, two places) and
times are timezone-aware ``datetime`` objects.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import ClassVar

from billing_providers.errors import ProviderConfigError


def _frozen_mapping(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


class PaymentKind(StrEnum):
    """What an invoice pays for; decides the receipt's payment method."""

    PREPAYMENT = "prepayment"
    FULL = "full"  # the whole price, nothing paid before
    REMAINDER = "remainder"  # the rest after a prepayment


class InvoiceStatus(StrEnum):
    """Provider-neutral state of an invoice. Only ``PAID`` means the money was received."""

    PENDING = "pending"  # created, not paid yet
    HELD = "held"  # pre-authorised, waiting for confirm/cancel
    PROCESSING = "processing"  # money received by the provider, being credited
    PAID = "paid"
    CANCELLED = "cancelled"
    FAILED = "failed"
    REFUNDED = "refunded"
    SUSPENDED = "suspended"  # stopped by the provider, handled manually
    NOT_FOUND = "not_found"  # the provider knows no operation with this id (yet)
    UNKNOWN = "unknown"  # a state code this adapter does not know; see ``raw_code``


@dataclass(frozen=True)
class ProviderAccount:
    """One partner's shop, decrypted by the core just before the call.

    Robokassa ``secrets`` keys: ``password1``, ``password2``, ``test_password1``,
    ``test_password2``. Secrets never appear in ``repr``.
    """

    login: str
    secrets: Mapping[str, str] = field(repr=False, default_factory=dict)
    hash_algorithm: str = "md5"
    test_mode: bool = False
    fiscalization: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "secrets", _frozen_mapping(self.secrets))


@dataclass(frozen=True)
class ReceiptRequest:
    """A one-line 54-FZ receipt for an invoice.

    ``tax_system``: osn | usn_income | usn_income_outcome | esn | patent.
    ``vat``: none | vat0 | vat5 | vat7 | vat10 | vat20 | vat22 (the nominal rate; adapters
    convert it to the computed rate where the payment method requires it).
    """

    tax_system: str
    vat: str
    item_name: str
    amount: Decimal
    payment_kind: PaymentKind
    # Paid at or after the start of the service: the payment settles (``full_payment``, the
    # nominal rate) instead of being another advance (fiscal.md §1.2).
    service_rendered: bool = False


@dataclass(frozen=True)
class InvoiceRequest:
    """What the core asks a provider to bill.

    ``extra``: custom fields echoed back in the callback. Keys are given WITHOUT any vendor
    prefix (``{"order": "42"}``; Robokassa sends it as ``Shp_order``) and must be lowercase
    ASCII letters and digits; values ASCII ``[A-Za-z0-9._-]``. ``expires_at`` must be aware.
    """

    invoice_id: int
    amount: Decimal
    description: str
    expires_at: datetime
    culture: str = "ru"
    receipt: ReceiptRequest | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    email: str | None = None
    # The buyer's phone in digits (``7XXXXXXXXXX``), for a provider whose receipt may go to a
    # phone instead of an e-mail (``BillingProvider.buyer_contact_kinds``).
    phone: str | None = None
    # Given by the core for a provider that ``issues_over_network``: the key stored with the
    # invoice before the call, sent again on every retry so one invoice makes one payment.
    idempotence_key: str = ""
    # Where the provider sends the buyer back after paying (absolute). Empty: the provider's own
    # setting (Robokassa's SuccessURL lives in its cabinet).
    return_url: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", _frozen_mapping(self.extra))


@dataclass(frozen=True)
class IssuedInvoice:
    """An invoice ready to pay.

    ``payment_url`` is a complete GET link (redirect the buyer there). ``form_action`` and
    ``form_fields`` carry the same request for an auto-submitted POST form (shorter URLs when a
    receipt is attached); render the values as they are, the browser encodes them.
    """

    invoice_id: int
    amount: Decimal
    payment_url: str
    expires_at: datetime
    is_test: bool
    receipt_json: str | None
    form_action: str = ""
    form_fields: tuple[tuple[str, str], ...] = ()
    # The provider's own id of the payment when it names it (YooKassa's payment id); the core
    # keeps it with the invoice and hands it back through the provider's reference lookup.
    provider_reference: str = ""


@dataclass(frozen=True)
class CallbackVerdict:
    """The result of checking a provider notification.

    ``reason_code`` (machine) and ``reason`` (English, for people) are set when refused:
    missing_field, bad_invoice_id, bad_amount, bad_signature, amount_mismatch,
    unexpected_test, not_configured. ``extra`` holds the echoed custom fields with the vendor
    prefix removed (the same keys as ``InvoiceRequest.extra``).
    """

    accepted: bool
    invoice_id: int | None
    amount: Decimal | None
    is_test: bool
    reason_code: str | None = None
    reason: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    raw_amount: str | None = None  # the amount string exactly as received
    payment_method: str | None = None
    fee: Decimal | None = None
    email: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", _frozen_mapping(self.extra))


@dataclass(frozen=True)
class InvoiceState:
    """What the provider says about an invoice right now."""

    invoice_id: int
    status: InvoiceStatus
    amount: Decimal | None
    paid_at: datetime | None
    raw_code: str | None
    state_date: datetime | None = None
    payment_method: str | None = None
    operation_key: str | None = None  # Robokassa OpKey, needed for refunds
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", _frozen_mapping(self.extra))


class ReceiptStatus(StrEnum):
    """Where a settlement receipt stands at the provider."""

    ACCEPTED = "accepted"  # taken, registration at the cash register still pending
    REGISTERED = "registered"  # fiscalized: the buyer has it
    FAILED = "failed"  # refused or failed to register; ``description`` says why


@dataclass(frozen=True)
class ReceiptSummary:
    """A stored payment receipt (``IssuedInvoice.receipt_json``) in the platform's neutral words,
    so the core can mirror it (a refund receipt, a settlement receipt) without reading vendor
    JSON: ``tax_system`` (``usn_income``…), ``item_name``, ``tax`` as printed (``vat122``…),
    ``payment_method`` (``prepayment``, ``full_prepayment``, ``full_payment``, ``advance``)."""

    tax_system: str | None
    item_name: str
    tax: str
    payment_method: str
    payment_object: str = "service"


@dataclass(frozen=True)
class SettlementReceiptRequest:
    """The second receipt (``full_payment``, the advance offset) that closes the prepayment
    receipt of one paid operation once the service is delivered (fiscal.md §2).

    ``receipt_id`` is a NEW number of the platform's (never an invoice id in use);
    ``origin_invoice_id`` the paid invoice whose receipt is closed; ``amount`` what that
    operation received (the offset); ``vat`` the nominal rate, as in ``ReceiptRequest``;
    ``email`` and/or ``phone`` (``7XXXXXXXXXX``) are required."""

    receipt_id: int
    origin_invoice_id: int
    tax_system: str
    vat: str
    item_name: str
    amount: Decimal
    site_url: str
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class SettlementReceiptResult:
    """The provider's answer about a settlement receipt (to sending it, or to a status check).

    ``accepted`` is False only for a refusal or a registration error (``status`` FAILED).
    ``fiscal`` holds the fiscal attributes once registered (number of the fiscal drive,
    document number and attribute, date), as strings."""

    accepted: bool
    result_code: str
    description: str | None
    operation_key: str | None = None
    status: ReceiptStatus = ReceiptStatus.ACCEPTED
    fiscal: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fiscal", _frozen_mapping(self.fiscal))


# --- refunds -------------------------------------------------------------------------------------


class RefundStatus(StrEnum):
    """Provider-neutral state of a refund request."""

    PROCESSING = "processing"  # accepted, money not yet returned
    FINISHED = "finished"  # the money went back (full or partial)
    CANCELED = "canceled"  # cancelled at the provider (e.g. in its cabinet): nothing returned
    UNKNOWN = "unknown"  # a label this adapter does not know; see ``raw_label``


@dataclass(frozen=True)
class RefundItem:
    """One position of the refund receipt («возврат прихода»), mirroring the receipt being
    reversed: the same name, tax code (as printed on it, e.g. ``vat122``) and payment method
    (``prepayment``, ``full_prepayment``, ``full_payment``)."""

    name: str
    amount: Decimal
    tax: str
    payment_method: str
    payment_object: str = "service"


@dataclass(frozen=True)
class RefundRequest:
    """Return ``amount`` of one paid operation. ``operation_key`` is the provider's key of that
    operation (Robokassa OpKey, from ``InvoiceState.operation_key``). ``full`` means the amount
    is all that is left of the operation. ``items`` (Σ amount = ``amount``) make the provider
    form the refund receipt; without them no receipt is formed."""

    operation_key: str = field(repr=False)
    amount: Decimal
    full: bool
    items: tuple[RefundItem, ...] = ()
    # For a provider with idempotent refunds: the core's own refund id, stored before the call,
    # so a repeat returns the same refund. Empty: the provider makes up a key (never repeat).
    idempotence_key: str = ""
    # The buyer's contact and the shop's tax system, for a refund receipt the provider forms,
    # and our invoice id (shown in the provider's cabinet). Ignored by providers that need none.
    email: str | None = None
    phone: str | None = None
    tax_system: str | None = None
    invoice_id: int | None = None


@dataclass(frozen=True)
class RefundCreated:
    request_id: str


@dataclass(frozen=True)
class RefundState:
    request_id: str
    status: RefundStatus
    amount: Decimal | None
    raw_label: str | None = None


# --- account declaration -------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldMessage:
    """The core's words for one problem of one field, when the generic ones will not do (a
    contract that predates the declaration keeps its codes and texts): ``problem`` is an
    ``account_problems`` code, ``code`` the machine code the API answers, the texts for people."""

    problem: str
    code: str
    text_ru: str
    text_en: str


@dataclass(frozen=True)
class AccountField:
    """One setting of a partner's shop, declared by the provider so the core can build its
    storage, API schema, panel form and audit labels from it. ``target``: ``login``
    (``ProviderAccount.login``), ``secret`` (a key of ``ProviderAccount.secrets``: sealed at
    rest, never shown back, write-only in the API), ``flag`` (``test_mode``/``fiscalization``),
    or ``choice`` (one of ``choices``, e.g. ``ProviderAccount.hash_algorithm``).
    ``modes``: the connection modes that use it (``keys``, ``oauth``); ``entered``: False when
    the platform fills it itself (an OAuth token).

    ``column``: the core's own column that holds the value, for settings older than the
    declaration (Robokassa's password columns, ``hash_algorithm``); empty: a secret is sealed
    with the shop's other declared secrets. ``requires``: for a flag, the secrets that must be
    set while it is on. ``strip``: surrounding spaces are dropped before checking and storing
    (False for passwords taken exactly as typed). ``messages``: the field's own problem texts."""

    name: str
    target: str  # "login" | "secret" | "flag" | "choice"
    label_ru: str
    label_en: str
    help_ru: str
    help_en: str
    required: bool
    modes: tuple[str, ...]
    pattern: str | None = None
    max_length: int = 255
    entered: bool = True
    choices: tuple[tuple[str, str], ...] = ()  # (value, label) for a "choice"
    default: str = ""  # a "choice"'s value when none is given
    column: str = ""
    requires: tuple[str, ...] = ()
    strip: bool = True
    messages: tuple[FieldMessage, ...] = ()

    @property
    def secret(self) -> bool:
        return self.target == "secret"

    def message(self, problem: str) -> FieldMessage | None:
        """The declared wording of ``problem`` for this field, or None (the core's own)."""
        return next((m for m in self.messages if m.problem == problem), None)


@dataclass(frozen=True)
class CabinetAddress:
    """An address of ours the owner pastes into the provider's cabinet. ``path`` is relative to
    the network's base URL; ``{partner_id}`` is replaced by the partner's id. ``method``: the
    HTTP method to pick beside it in the cabinet, when it asks for one."""

    name: str
    path: str
    label_ru: str
    label_en: str
    help_ru: str
    help_en: str
    modes: tuple[str, ...]
    method: str = ""


def account_problems(
    fields: tuple[AccountField, ...],
    values: Mapping[str, str],
    mode: str = "keys",
    *,
    kept: frozenset[str] = frozenset(),
    flags: Mapping[str, bool] | None = None,
) -> dict[str, str]:
    """Field name → problem code (``required``, ``too_long``, ``bad_format``, ``bad_choice``,
    and ``requires`` for a flag that is on while a secret it ``requires`` is missing) for the
    entered fields of ``mode``; a secret in ``kept`` (already stored) may be left out. ``flags``
    are the flags' resulting values (absent: off). Never raises."""
    problems: dict[str, str] = {}
    present = set(kept)
    for spec in fields:
        if mode not in spec.modes or not spec.entered or spec.target == "flag":
            continue
        raw = values.get(spec.name) or ""
        value = raw.strip() if spec.strip else raw
        if not value.strip():
            if spec.required and spec.name not in kept:
                problems[spec.name] = "required"
            continue
        present.add(spec.name)
        if spec.target == "choice":
            if value not in {choice for choice, _label in spec.choices}:
                problems[spec.name] = "bad_choice"
        elif len(value) > spec.max_length:
            problems[spec.name] = "too_long"
        elif spec.pattern is not None and not re.fullmatch(spec.pattern, value):
            problems[spec.name] = "bad_format"
    on = {name for name, value in (flags or {}).items() if value}
    for spec in fields:
        missing = not set(spec.requires) <= present
        if spec.target == "flag" and mode in spec.modes and spec.name in on and missing:
            problems[spec.name] = "requires"
    return problems


class BillingProvider(ABC):
    """A payment provider adapter. Stateless apart from its construction options; the shop's
    credentials come in every call as a ``ProviderAccount``."""

    slug: ClassVar[str]
    # True when ``fetch_invoice_state`` answers NOT_FOUND for a number the shop never used, so
    # the core can ask whether a number is free before handing it out.
    tells_unused_numbers: ClassVar[bool] = False
    # Names (lower case) of the request and callback fields that carry a signature. Wherever raw
    # fields are shown or exported they are masked: with the other fields, which are not secret, a
    # signature lets anyone try passwords offline until one reproduces it.
    signature_fields: ClassVar[frozenset[str]] = frozenset()
    # True when ``issue_invoice`` is a network call (the provider creates the payment by API).
    # The core then stores the invoice and ``invoice_idempotence_key`` first (committed), calls
    # outside its row locks, and repeats a lost call with the same key.
    issues_over_network: ClassVar[bool] = False
    # Reason codes of refused notifications that are still answered as accepted (HTTP 200):
    # genuine notifications with nothing to record (YooKassa's refund events).
    acknowledged_refusals: ClassVar[frozenset[str]] = frozenset()
    # True when the adapter takes a ``references=`` option: the core's lookup of the provider's
    # own ids it stored (``payment_id(invoice_id)``, ``receipt_id(receipt_number)``), because the
    # provider cannot be searched by ours.
    uses_references: ClassVar[bool] = False
    # The shop's settings as the owner enters them, the addresses to paste into the provider's
    # cabinet, and whether a shop can be connected by OAuth instead of keys.
    account_fields: ClassVar[tuple[AccountField, ...]] = ()
    cabinet_addresses: ClassVar[tuple[CabinetAddress, ...]] = ()
    connects_by_oauth: ClassVar[bool] = False
    # The name of the provider's own object in the partners API, for a provider whose API shape
    # predates ``provider_account`` (the contract only grows); empty: ``provider_account`` only.
    account_block: ClassVar[str] = ""

    def invoice_idempotence_key(self, invoice_id: int) -> str:
        """The idempotence key of the payment request for ``invoice_id`` (the same on every
        retry). Empty for a provider that does not ``issues_over_network``."""
        return ""

    @abstractmethod
    def issue_invoice(self, account: ProviderAccount, request: InvoiceRequest) -> IssuedInvoice:
        """Build the signed payment request for ``request``. Pure: no network, unless the
        provider ``issues_over_network`` (then honour ``request.idempotence_key``).

        Returns an ``IssuedInvoice``. Raises ``ProviderConfigError`` for bad settings
        (unknown hash algorithm, missing password) or a request the provider would refuse
        (amount with more than two decimals, bad ``extra`` keys, receipt amount mismatch).
        """

    def callback_fields(
        self, *, form: Mapping[str, Sequence[str]], body: bytes, remote_addr: str
    ) -> dict[str, str]:
        """What ``callback_invoice_id`` and ``verify_callback`` read, from one HTTP notification:
        its form or query fields (first value of each, exactly as received), its raw body, and
        the sender's address as the core's trusted edge saw it. The default takes the fields
        (Robokassa); a provider that posts JSON and is checked by its sender overrides it."""
        return {key: values[0] if values else "" for key, values in form.items()}

    @abstractmethod
    def callback_invoice_id(self, params: Mapping[str, str]) -> int | None:
        """Cheaply read the invoice id from an UNVERIFIED callback, to locate the stored
        invoice and its account before verification. Returns None when absent or malformed;
        never raises."""

    @abstractmethod
    def verify_callback(
        self,
        account: ProviderAccount,
        params: Mapping[str, str],
        *,
        expected_amount: Decimal | None,
    ) -> CallbackVerdict:
        """Verify a payment notification over the values exactly as received.

        ``expected_amount`` is the stored invoice amount (compared numerically) or None to skip
        that check. Returns an accepted verdict, or a refusal with ``reason_code``; never
        raises on bad input.
        """

    def verify_success_redirect(
        self,
        account: ProviderAccount,
        params: Mapping[str, str],
        *,
        expected_amount: Decimal | None = None,
    ) -> CallbackVerdict:
        """Verify the fields the provider signs when it sends the buyer back to the shop after
        paying (Robokassa's SuccessURL), exactly as received. For the buyer's page only: a
        return proves nothing about payment.

        Returns a verdict like ``verify_callback``; a provider that signs no return refuses with
        ``not_supported`` (the default). Never raises on bad input.
        """
        return CallbackVerdict(
            accepted=False,
            invoice_id=None,
            amount=None,
            is_test=False,
            reason_code="not_supported",
            reason="This provider signs no return of the buyer.",
        )

    def receipt_summary(self, receipt_json: str) -> ReceiptSummary | None:
        """Read back this provider's own ``receipt_json``; None when unreadable (or no receipt).
        Never raises."""
        return None

    # True when the provider refunds a test shop's payments through its API (YooKassa's test
    # shops do; Robokassa's Refund API does not know test operations).
    refunds_in_test_mode: ClassVar[bool] = False

    @abstractmethod
    def acknowledge(self, verdict: CallbackVerdict) -> tuple[str, str]:
        """The response body and content type the provider expects for ``verdict``.

        For an accepted verdict this is the success answer that stops retries; for a refusal a
        short plain-text reason (the HTTP status is the caller's choice). Never raises.
        """

    @abstractmethod
    def fetch_invoice_state(self, account: ProviderAccount, invoice_id: int) -> InvoiceState:
        """Ask the provider for the invoice's current state (network call).

        Returns an ``InvoiceState`` (``NOT_FOUND`` when the provider knows no such
        operation). Raises ``ProviderUnavailable`` (timeouts, network errors, 5xx),
        ``ProviderConfigError`` (the provider rejects our credentials or shop),
        ``ProviderResponseError`` (an answer we cannot interpret).
        """

    # True when the provider issues settlement receipts (``send_settlement_receipt``).
    settles_receipts: ClassVar[bool] = False

    def send_settlement_receipt(
        self, account: ProviderAccount, request: SettlementReceiptRequest
    ) -> SettlementReceiptResult:
        """Send the settlement receipt of one operation (network call). Not idempotent at the
        provider: ask ``fetch_settlement_receipt_state`` before any resend of the same id.

        Returns the result (``status`` ACCEPTED, REGISTERED or FAILED). Raises
        ``ProviderConfigError`` (bad request or settings; ``not_supported`` by default),
        ``ProviderUnavailable`` (retry later), ``ProviderResponseError`` (unreadable answer).
        """
        raise ProviderConfigError(
            "This provider issues no settlement receipts", code="not_supported"
        )

    def fetch_settlement_receipt_state(
        self, account: ProviderAccount, receipt_id: int
    ) -> SettlementReceiptResult:
        """Ask where a settlement receipt sent earlier stands (network call).

        Returns the result; raises as ``send_settlement_receipt``."""
        raise ProviderConfigError(
            "This provider issues no settlement receipts", code="not_supported"
        )

    supports_refunds: ClassVar[bool] = False
    # The ``ProviderAccount.secrets`` key refunds need besides the usual ones (Robokassa:
    # ``password3``), so the core can say what is missing before calling; None: nothing extra.
    refund_secret: ClassVar[str | None] = None

    def refund_create(self, account: ProviderAccount, request: RefundRequest) -> RefundCreated:
        """Ask the provider to return money of one operation (network call).

        Returns the provider's request id (poll it with ``refund_state``). Raises
        ``ProviderConfigError`` (no refund credentials: ``code="missing_secret"``; refunds not
        supported: ``code="refunds_not_supported"``), ``ProviderResponseError`` with
        ``code="refund_refused"`` (the provider said no, e.g. not enough funds left; ``message``
        carries its reason), ``ProviderUnavailable`` (no answer: the refund may or may not exist;
        never retry it automatically, there is no idempotency key)."""
        raise ProviderConfigError(
            f"Provider {self.slug!r} cannot refund through its API", code="refunds_not_supported"
        )

    def refund_state(self, account: ProviderAccount, request_id: str) -> RefundState:
        """The current state of a refund request (network call). Raises ``ProviderUnavailable``,
        ``ProviderResponseError`` (``code="refund_not_found"`` for an id the provider does not
        know), ``ProviderConfigError``."""
        raise ProviderConfigError(
            f"Provider {self.slug!r} cannot refund through its API", code="refunds_not_supported"
        )

    # --- the buyer's contact, the shop check, connecting by OAuth ---------------------------------

    def buyer_contact_kinds(self, account: ProviderAccount) -> tuple[str, ...]:
        """The buyer's contacts an invoice for ``account`` must carry (any one of them, in order
        of preference: ``email``, ``phone``) because the provider forms the 54-FZ receipt and
        sends it to the buyer. Empty (the default): nothing is asked of the buyer."""
        return ()

    # True when ``shop_check`` asks the provider about the shop by API (no test payment needed).
    checks_shop_by_api: ClassVar[bool] = False

    def shop_check(self, account: ProviderAccount) -> ShopCheck:
        """Ask the provider what ``account``'s credentials reach (network call). Returns a
        ``ShopCheck``; raises ``ProviderConfigError`` (credentials refused; ``not_supported`` by
        default), ``ProviderUnavailable``, ``ProviderResponseError``."""
        raise ProviderConfigError("This provider has no shop check API", code="not_supported")

    def oauth_authorize_url(self, state: str) -> str:
        """Where to send the shop's owner to grant access (``connects_by_oauth``); ``state`` comes
        back unchanged on the callback. Raises ``ProviderConfigError`` (no OAuth app set up:
        ``missing_oauth_app``; ``not_supported`` by default)."""
        raise ProviderConfigError("This provider does not connect by OAuth", code="not_supported")

    def oauth_connect(self, code: str) -> OAuthConnected:
        """Trade the callback's ``code`` for the shop's token and read the shop (network calls).
        Raises ``ProviderConfigError`` (a used, expired or foreign code: start again),
        ``ProviderUnavailable``, ``ProviderResponseError``."""
        raise ProviderConfigError("This provider does not connect by OAuth", code="not_supported")

    def notifications_register(self, account: ProviderAccount, url: str) -> tuple[str, ...]:
        """Point the shop's notifications at ``url`` by API (a shop connected by OAuth), once
        per event, safe to repeat. Returns the events subscribed. Raises ``ProviderConfigError``
        (``not_supported`` by default, or the credentials cannot manage notifications),
        ``ProviderUnavailable``, ``ProviderResponseError``."""
        raise ProviderConfigError("This provider registers no notifications", code="not_supported")


@dataclass(frozen=True)
class ShopCheck:
    """What the provider says about a shop (``BillingProvider.shop_check``): its id, whether it
    accepts payments, whether it is a test shop, whether the provider sends its receipts, and
    the payment methods it offers (the provider's codes)."""

    shop_id: str
    enabled: bool
    test: bool
    fiscalization: bool
    payment_methods: tuple[str, ...] = ()
    fiscal_provider: str | None = None


@dataclass(frozen=True)
class OAuthConnected:
    """A shop connected by OAuth (``BillingProvider.oauth_connect``): the ``ProviderAccount``
    values to store (``login``, ``secrets`` to seal) and the shop as the provider reports it."""

    login: str
    secrets: Mapping[str, str] = field(repr=False)
    shop: ShopCheck
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "secrets", _frozen_mapping(self.secrets))
