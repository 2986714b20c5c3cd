"""A strict fake of Robokassa on 127.0.0.1, written from shared/specs/robokassa.md.

It is deliberately independent of ``billing_providers.robokassa`` (its own signature code), so
that a bug in the adapter is not mirrored here.

Usage::

    with FakeRobokassa() as fake:
        fake.register_shop("demo-shop", password1="p1", password2="p2",
                           test_password1="tp1", test_password2="tp2",
                           hash_algorithm="md5", result_url="http://127.0.0.1:1234/result/")
        provider = RobokassaProvider(payment_url=fake.payment_url, api_base_url=fake.api_base_url,
                                     fiscal_base_url=fake.fiscal_base_url)
        invoice = provider.issue_invoice(account, request)
        httpx.get(invoice.payment_url)          # the buyer opens the page: signature checked
        delivery = fake.pay("demo-shop", invoice.invoice_id)   # calls ResultURL
        assert delivery.body == f"OK{invoice.invoice_id}"

Endpoints (GET or POST where Robokassa allows both):

* ``/Merchant/Index.aspx`` — the payment page. Checks the shop, OutSum, InvId, the signature
  (Password #1, test #1 when ``IsTest=1``, including Receipt and Shp_ parameters), the Receipt
  JSON (sum = OutSum, ≤ 100 items, names ≤ 128, known codes), Description ≤ 100 and
  ExpirationDate. An error answers HTTP 200 with an error page and the header
  ``X-Robokassa-Error: <code>`` (29 = bad SignatureValue). Adding ``fake_action=pay`` to the
  request (not signed, ignored by the check) pays the invoice at once and calls ResultURL.
* ``/Merchant/WebService/Service.asmx/OpStateExt`` — XML status (§6), signed with Password #2.
  An invoice that was only viewed has no operation yet (Result/Code 3), as with the real one;
  ``set_state`` creates one in any state.
* ``/RoboFiscal/Receipt/Attach`` — the second receipt (§5.3, fiscal.md §2): signature
  (Password #1, the shop's algorithm), the payload's rules (``id`` ≠ ``originId`` and no InvId,
  ``originId`` a paid live operation of the shop, ``sell``, ``full_payment`` only, one
  ``payments`` entry of type 2, total = Σ items = Σ payments ≤ the operation's amount, a
  client contact, ``vats`` of the item's rate) and the limit of one settlement per operation.
  A refusal answers ``ResultCode`` 3 with the reason.
* ``/RoboFiscal/Receipt/Status`` — the same envelope around ``{"merchantId","id"}``; answers
  ``Code`` 1 (awaiting) for ``receipt_pending_polls`` checks, then 2 with the fiscal attributes
  (or 3 when ``receipt_registration_error`` is set). An unknown id is Code 3.
* ``/RefundService/Refund/Create`` and ``/Refund/GetState`` — the Refund API (§8): an HS256/384/512
  JWT (bare or as a JSON string) keyed with the shop's Password #3, compact payload, the operation
  found by OpKey, only a paid live one; ``RefundSum`` ≤ what is left (else
  ``NotEnoughOperationFunds``), omitted = all that is left; ``InvoiceItems`` must add up to the
  refund. GetState says ``processing`` ``refund_processing_polls`` times, then ``finished``; a
  refund of everything left moves the operation to State 60. ``cabinet_refund`` returns a whole
  payment in the cabinet (State 60, nothing sent to the platform).

History the platform did not create: ``add_history`` (the shop's own operations, which
OpStateExt reports and which make a reused InvId fail with error 40).

Knobs for failure tests: ``result_attempts`` / ``result_retry_delay`` (ResultURL retries while
the answer is not ``OK<InvId>``), ``op_state_http_status`` (e.g. 500), ``op_state_delay``
(seconds, for timeouts), ``op_state_result_code`` (force a Result/Code, e.g. 4 or 1000),
``viewed_invoice_state`` (e.g. 5: a viewed invoice already has an "initialised" operation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

PAYMENT_PATH = "/Merchant/Index.aspx"
OP_STATE_PATH = "/Merchant/WebService/Service.asmx/OpStateExt"
RECEIPT_ATTACH_PATH = "/RoboFiscal/Receipt/Attach"
REFUND_CREATE_PATH = "/RefundService/Refund/Create"
REFUND_STATE_PATH = "/RefundService/Refund/GetState"
RECEIPT_STATUS_PATH = "/RoboFiscal/Receipt/Status"
XML_NS = "http://merchant.roboxchange.com/WebService/"
MSK = timezone(timedelta(hours=3))

# §2.1: optional signed parameters, in their signature order (after InvId, before the password)
SIGNED_OPTIONAL = (
    *("OutSumCurrency", "UserIp", "Receipt", "StepByStep", "ResultUrl2"),
    *("SuccessUrl2", "SuccessUrl2Method", "FailUrl2", "FailUrl2Method", "Token"),
)

# §1.3 payment-page errors
PAGE_ERRORS = {
    23: "Test payment cannot be created: test settings are missing",
    25: "Shop is not activated",
    26: "Shop not found",
    29: "Bad parameter SignatureValue (неверный параметр SignatureValue)",
    30: "Bad invoice parameter",
    31: "Bad payment amount",
    33: "Payment time expired",
    40: "An invoice with this number was already paid",
}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


SNO_VALUES = _words("osn usn_income usn_income_outcome esn patent envd")
TAX_VALUES = _words("none vat0 vat5 vat7 vat10 vat20 vat22 vat105 vat107 vat110 vat120 vat122")
PAYMENT_METHOD_VALUES = _words(
    "full_prepayment prepayment advance full_payment partial_payment credit credit_payment"
)
PAYMENT_OBJECT_VALUES = _words(
    """commodity excise job service gambling_bet gambling_prize lottery lottery_prize
    intellectual_activity payment agent_commission composite resort_fee another property_right
    non-operating_gain insurance_premium sales_tax tovar_mark"""
)

_AMOUNT = re.compile(r"[0-9]+(\.[0-9]+)?")
_RECEIPT_SUM = re.compile(r"[0-9]{1,8}(\.[0-9]{1,2})?")


class PageError(Exception):
    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


def fake_hash(algorithm: str, text: str) -> str:
    """Lower-case hex digest of the UTF-8 text with one of the six shop algorithms."""
    name = algorithm.lower()
    if name not in {"md5", "ripemd160", "sha1", "sha256", "sha384", "sha512"}:
        raise ValueError(f"unknown algorithm {algorithm}")
    try:
        return hashlib.new(name, text.encode()).hexdigest()
    except ValueError:  # OpenSSL 3 without RIPEMD-160
        from Crypto.Hash import RIPEMD160

        return RIPEMD160.new(text.encode()).hexdigest()


def _shp_tail(shp: Iterable[tuple[str, str]]) -> list[str]:
    return [f"{key}={value}" for key, value in sorted(shp)]


def format_amount(value: Decimal | int | str, places: int = 6) -> str:
    """A string is taken as is; numbers are written with ``places`` decimals."""
    if isinstance(value, str):
        return value
    return format(Decimal(value).quantize(Decimal(1).scaleb(-places)), "f")


def result_callback_form(
    *,
    out_sum: Decimal | int | str,
    inv_id: int | str,
    password2: str,
    hash_algorithm: str = "md5",
    shp: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    is_test: bool = False,
    fee: Decimal | str | None = None,
    email: str | None = "buyer@example.com",
    payment_method: str = "BankCard",
    inc_curr_label: str = "BankCardPSR",
) -> dict[str, str]:
    """The exact form the real Robokassa POSTs to ResultURL (§3.1): ``OutSum`` with six
    decimals (unless given as a string), upper-case ``SignatureValue`` over
    ``OutSum:InvId:Password#2[:Shp_...]``, Shp fields echoed, ``IsTest=1`` in test mode,
    ``EMail`` only outside test mode."""
    pairs = list(shp.items()) if isinstance(shp, Mapping) else list(shp)
    out_sum_text = format_amount(out_sum)
    base = ":".join([out_sum_text, str(inv_id), password2, *_shp_tail(pairs)])
    if fee is None:
        fee = (Decimal(out_sum_text) * Decimal("0.039")).quantize(Decimal("0.01"))
    form = {
        "OutSum": out_sum_text,
        "InvId": str(inv_id),
        "Fee": format_amount(fee),
        "SignatureValue": fake_hash(hash_algorithm, base).upper(),
        "PaymentMethod": payment_method,
        "IncCurrLabel": inc_curr_label,
    }
    if email and not is_test:
        form["EMail"] = email
    form.update(pairs)
    if is_test:
        form["IsTest"] = "1"
    return form


@dataclass
class FakeShop:
    login: str
    password1: str = field(repr=False)
    password2: str = field(repr=False)
    test_password1: str | None = field(default=None, repr=False)
    test_password2: str | None = field(default=None, repr=False)
    hash_algorithm: str = "md5"
    result_url: str | None = None
    result_method: str = "POST"
    password3: str | None = field(default=None, repr=False)


@dataclass
class FakeRefund:
    request_id: str
    login: str
    inv_id: int
    amount: Decimal
    items: list[dict[str, Any]]
    label: str = "processing"
    polls: int = 0


@dataclass
class FakeInvoice:
    login: str
    inv_id: int
    out_sum: Decimal
    out_sum_raw: str
    description: str
    is_test: bool
    shp: list[tuple[str, str]]
    receipt: dict[str, Any] | None
    email: str | None
    expiration: datetime | None
    culture: str | None
    state: int | None = None  # None: viewed only, no operation yet (OpStateExt code 3)
    state_date: datetime | None = None
    op_key: str | None = None
    payment_method: str = "BankCard"
    refunded: Decimal = Decimal(0)  # returned so far (platform requests and the cabinet)


@dataclass(frozen=True)
class ResultDelivery:
    """One ResultURL call made by the fake (``status`` 0 = no HTTP answer)."""

    url: str
    method: str
    form: dict[str, str]
    status: int
    body: str
    attempt: int


@dataclass(frozen=True)
class FakeRequest:
    method: str
    path: str
    params: list[tuple[str, str]]
    body: str


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeRobokassa

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout tests) is not an error of the fake.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read(self) -> tuple[list[tuple[str, str]], str]:
        split = urlsplit(self.path)
        params = parse_qsl(split.query, keep_blank_values=True, encoding="utf-8")
        body = ""
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length).decode("utf-8")
            content_type = self.headers.get("Content-Type", "")
            if content_type.startswith("application/x-www-form-urlencoded"):
                params += parse_qsl(body, keep_blank_values=True, encoding="utf-8")
        return params, body

    def _answer(self, status: int, body: str, content_type: str, headers: dict[str, str]) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self) -> None:
        params, body = self._read()
        path = urlsplit(self.path).path
        fake = self.server.fake
        fake._log(FakeRequest(self.command, path, params, body))
        if path == PAYMENT_PATH:
            self._answer(*fake._payment_page(params))
        elif path == OP_STATE_PATH:
            self._answer(*fake._op_state(params))
        elif path == RECEIPT_ATTACH_PATH and self.command == "POST":
            self._answer(*fake._receipt_attach(body))
        elif path == REFUND_CREATE_PATH and self.command == "POST":
            self._answer(*fake._refund_create(body, self.headers.get("Content-Type", "")))
        elif path == REFUND_STATE_PATH and self.command == "GET":
            self._answer(*fake._refund_state(dict(params)))
        elif path == RECEIPT_STATUS_PATH and self.command == "POST":
            self._answer(*fake._receipt_status(body))
        else:
            self._answer(404, "not found", "text/plain", {})

    do_GET = _dispatch
    do_POST = _dispatch


class FakeRobokassa:
    """The fake server. ``base_url`` serves everything: ``payment_url`` (the payment page),
    ``api_base_url`` (OpStateExt) and ``fiscal_base_url`` (second receipts)."""

    def __init__(self) -> None:
        self.shops: dict[str, FakeShop] = {}
        self.invoices: dict[tuple[str, int], FakeInvoice] = {}
        self.deliveries: list[ResultDelivery] = []
        self.requests: list[FakeRequest] = []
        self.attached_receipts: list[dict[str, Any]] = []
        self.receipt_attach_http_status: int | None = None
        self.receipt_status_http_status: int | None = None
        self.receipt_pending_polls = 0
        self.receipt_registration_error: str | None = None
        self._receipt_polls: dict[tuple[str, str], int] = {}
        self.result_attempts = 1
        self.result_retry_delay = 0.0
        self.op_state_http_status: int | None = None
        self.op_state_delay = 0.0
        self.op_state_result_code: int | None = None
        self.viewed_invoice_state: int | None = None
        # Refund API knobs: GetState answers "processing" this many times before "finished";
        # refund_http_status makes Create fail at the HTTP level (e.g. 500, or a timeout by
        # refund_delay seconds).
        self.refund_processing_polls = 1
        self.refund_http_status: int | None = None
        self.refund_delay = 0.0
        self.refunds: dict[str, FakeRefund] = {}
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._http: httpx.Client | None = None
        self._next_inv_id = 1_000_000_000

    # lifecycle -------------------------------------------------------------------------------

    def start(self) -> FakeRobokassa:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._http = httpx.Client(timeout=10)
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._http is not None:
            self._http.close()
        self._server = self._thread = self._http = None

    def __enter__(self) -> FakeRobokassa:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "FakeRobokassa is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def payment_url(self) -> str:
        return self.base_url + PAYMENT_PATH

    @property
    def api_base_url(self) -> str:
        return self.base_url

    @property
    def fiscal_base_url(self) -> str:
        return self.base_url

    # set-up and helpers for tests -------------------------------------------------------------

    def register_shop(
        self,
        login: str,
        password1: str,
        password2: str,
        test_password1: str | None = None,
        test_password2: str | None = None,
        hash_algorithm: str = "md5",
        result_url: str | None = None,
        result_method: str = "POST",
        password3: str | None = None,
    ) -> FakeShop:
        shop = FakeShop(
            login,
            password1,
            password2,
            test_password1,
            test_password2,
            hash_algorithm,
            result_url,
            result_method,
            password3,
        )
        with self._lock:
            self.shops[login] = shop
        return shop

    def invoice(self, login: str, inv_id: int) -> FakeInvoice:
        with self._lock:
            return self.invoices[(login, inv_id)]

    def build_result_callback(
        self,
        login: str,
        inv_id: int,
        out_sum: Decimal | int | str,
        shp: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        is_test: bool = False,
        password2: str | None = None,
        **extra: Any,
    ) -> dict[str, str]:
        """The ResultURL form for a shop registered here; ``password2`` overrides the shop's
        (to forge a bad signature); ``extra`` goes to ``result_callback_form``. Without ``shp``
        the Shp_ fields of the invoice as it was requested are echoed, as Robokassa does."""
        shop = self.shops[login]
        if shp is None:
            with self._lock:
                known = self.invoices.get((login, int(inv_id)))
            shp = list(known.shp) if known else []
        if password2 is None:
            password2 = shop.test_password2 if is_test else shop.password2
        assert password2, "the shop has no (test) Password #2"
        return result_callback_form(
            out_sum=out_sum,
            inv_id=inv_id,
            password2=password2,
            hash_algorithm=shop.hash_algorithm,
            shp=shp,
            is_test=is_test,
            **extra,
        )

    def add_history(
        self,
        login: str,
        inv_id: int,
        out_sum: Decimal | int | str,
        *,
        state: int = 100,
        shp: Iterable[tuple[str, str]] = (),
        description: str = "Заказ с сайта магазина",
    ) -> FakeInvoice:
        """An operation of the shop's own (its site, its cabinet) that the platform did not
        create: OpStateExt reports it, and a payment request reusing a paid one's InvId gets
        error 40, as with the real service. It replaces whatever the fake held under that InvId."""
        amount = Decimal(out_sum)
        invoice = FakeInvoice(
            login=login,
            inv_id=inv_id,
            out_sum=amount,
            out_sum_raw=format_amount(amount, 2),
            description=description,
            is_test=False,
            shp=list(shp),
            receipt=None,
            email=None,
            expiration=None,
            culture="ru",
        )
        with self._lock:
            self.invoices[(login, inv_id)] = invoice
        self.set_state(login, inv_id, state)
        return invoice

    def set_state(self, login: str, inv_id: int, state: int) -> None:
        """Give a viewed invoice an operation in any §6 state (5, 10, 50, 60, 80, 100)."""
        with self._lock:
            invoice = self.invoices[(login, inv_id)]
            invoice.state = state
            invoice.state_date = datetime.now(MSK)
            invoice.op_key = invoice.op_key or uuid.uuid4().hex.upper()

    def pay(
        self,
        login: str,
        inv_id: int,
        *,
        notify: bool = True,
        payment_method: str = "BankCard",
        **callback_extra: Any,
    ) -> ResultDelivery | None:
        """The buyer pays: state 100, then (unless ``notify=False``, a lost callback) the
        ResultURL call. Returns the last delivery attempt."""
        with self._lock:
            invoice = self.invoices[(login, inv_id)]
            invoice.payment_method = payment_method
        self.set_state(login, inv_id, 100)
        if not notify:
            return None
        return self.deliver_result(login, inv_id, payment_method=payment_method, **callback_extra)

    def deliver_result(self, login: str, inv_id: int, **callback_extra: Any) -> ResultDelivery:
        """Call the shop's ResultURL for a paid invoice, retrying up to ``result_attempts``
        times while the answer is not ``OK<InvId>``."""
        shop = self.shops[login]
        invoice = self.invoice(login, inv_id)
        assert shop.result_url, f"shop {login} has no result_url"
        form = self.build_result_callback(
            login,
            inv_id,
            invoice.out_sum,
            shp=invoice.shp,
            is_test=invoice.is_test,
            **callback_extra,
        )
        delivery: ResultDelivery | None = None
        for attempt in range(1, self.result_attempts + 1):
            try:
                http = self._http or httpx.Client(timeout=10)
                if shop.result_method == "GET":
                    response = http.get(shop.result_url, params=form)
                else:
                    response = http.post(shop.result_url, data=form)
                status, body = response.status_code, response.text
            except httpx.HTTPError as exc:
                status, body = 0, f"{type(exc).__name__}: {exc}"
            delivery = ResultDelivery(
                shop.result_url, shop.result_method, form, status, body, attempt
            )
            with self._lock:
                self.deliveries.append(delivery)
            if status == 200 and body.strip() == f"OK{inv_id}":
                break
            if attempt < self.result_attempts:
                time.sleep(self.result_retry_delay)
        assert delivery is not None
        return delivery

    def _log(self, request: FakeRequest) -> None:
        with self._lock:
            self.requests.append(request)

    # the payment page ---------------------------------------------------------------------------

    def _payment_page(self, params: list[tuple[str, str]]) -> tuple[int, str, str, dict[str, str]]:
        try:
            invoice = self.accept_payment_request(params)
        except PageError as error:
            text = f"Error {error.code}: {PAGE_ERRORS.get(error.code, 'error')}"
            if error.detail:
                text += f" ({error.detail})"
            page = (
                f"<html><body><h1>Robokassa</h1><p class='error'>{escape(text)}</p></body></html>"
            )
            return 200, page, "text/html; charset=utf-8", {"X-Robokassa-Error": str(error.code)}
        note = ""
        if dict(params).get("fake_action") == "pay":
            delivery = self.pay(invoice.login, invoice.inv_id)
            note = (
                f"<p class='paid'>paid; ResultURL answered {delivery.status if delivery else 0}</p>"
            )
        page = (
            "<html><body><h1>Robokassa</h1>"
            f"<p class='invoice'>Invoice {invoice.inv_id}: {escape(invoice.description)}</p>"
            f"<p class='sum'>{invoice.out_sum_raw} RUB</p>"
            f"{'<p class=test>TEST</p>' if invoice.is_test else ''}{note}</body></html>"
        )
        return 200, page, "text/html; charset=utf-8", {}

    def accept_payment_request(self, params: list[tuple[str, str]]) -> FakeInvoice:
        """What the payment page does with the (decoded) request fields, without HTTP.
        Records and returns the invoice; raises PageError with Robokassa's error code."""
        values = dict(params)
        login = values.get("MerchantLogin") or values.get("MrchLogin") or ""
        shop = self.shops.get(login)
        if shop is None:
            raise PageError(26)
        out_sum = values.get("OutSum", "")
        if not _AMOUNT.fullmatch(out_sum) or Decimal(out_sum) <= 0:
            raise PageError(31)
        inv_raw = values.get("InvId", values.get("InvoiceID", ""))
        if inv_raw and not inv_raw.isdigit():
            raise PageError(30, "InvId")
        is_test = values.get("IsTest") == "1"
        password = shop.test_password1 if is_test else shop.password1
        if not password:
            raise PageError(23)
        shp = [(key, value) for key, value in params if key.lower().startswith("shp_")]
        parts = [login, out_sum, inv_raw]
        parts += [values[name] for name in SIGNED_OPTIONAL if name in values]
        base = ":".join([*parts, password, *_shp_tail(shp)])
        expected = fake_hash(shop.hash_algorithm, base)
        received = values.get("SignatureValue", "")
        if not hmac.compare_digest(expected.upper().encode(), received.upper().encode()):
            raise PageError(29)

        description = values.get("Description", "")
        if len(description) > 100:
            raise PageError(30, "Description longer than 100 characters")
        expiration = self._parse_expiration(values.get("ExpirationDate"))
        if expiration is not None and expiration < datetime.now(UTC):
            raise PageError(33)
        receipt = None
        if "Receipt" in values:
            receipt = self._check_receipt(values["Receipt"], Decimal(out_sum))

        with self._lock:
            if inv_raw and int(inv_raw) > 0:
                inv_id = int(inv_raw)
            else:
                self._next_inv_id += 1
                inv_id = self._next_inv_id
            previous = self.invoices.get((login, inv_id))
            if previous and previous.state == 100 and not previous.is_test and not is_test:
                raise PageError(40)
            invoice = FakeInvoice(
                login=login,
                inv_id=inv_id,
                out_sum=Decimal(out_sum),
                out_sum_raw=out_sum,
                description=description,
                is_test=is_test,
                shp=shp,
                receipt=receipt,
                email=values.get("Email"),
                expiration=expiration,
                culture=values.get("Culture"),
            )
            self.invoices[(login, inv_id)] = invoice
        if self.viewed_invoice_state is not None:
            self.set_state(login, inv_id, self.viewed_invoice_state)
        return invoice

    @staticmethod
    def _parse_expiration(raw: str | None) -> datetime | None:
        if raw is None:
            return None
        match = re.fullmatch(r"(.+?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", raw)
        if match is None:
            raise PageError(30, "ExpirationDate needs an explicit offset")
        text = match[1] + (f".{match[2][:6]}" if match[2] else "")
        text += "+00:00" if match[3] == "Z" else match[3]
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise PageError(30, "ExpirationDate") from None

    @staticmethod
    def _check_receipt(value: str, out_sum: Decimal) -> dict[str, Any]:
        # The field value (after the request's own decoding) is the URL-encoded JSON (§2.4).
        try:
            receipt = json.loads(unquote(value), parse_float=Decimal)
        except ValueError:
            raise PageError(30, "Receipt is not URL-encoded JSON") from None
        if not isinstance(receipt, dict):
            raise PageError(30, "Receipt is not an object")
        if "sno" in receipt and receipt["sno"] not in SNO_VALUES:
            raise PageError(30, f"Receipt sno {receipt['sno']!r}")
        items = receipt.get("items")
        if not isinstance(items, list) or not 1 <= len(items) <= 100:
            raise PageError(30, "Receipt items")
        total = Decimal(0)
        for item in items:
            name = item.get("name")
            if not isinstance(name, str) or not 1 <= len(name) <= 128:
                raise PageError(30, "Receipt item name")
            if item.get("tax") not in TAX_VALUES:
                raise PageError(30, f"Receipt tax {item.get('tax')!r}")
            method = item.get("payment_method")
            if method is not None and method not in PAYMENT_METHOD_VALUES:
                raise PageError(30, f"Receipt payment_method {method!r}")
            obj = item.get("payment_object")
            if obj is not None and obj not in PAYMENT_OBJECT_VALUES:
                raise PageError(30, f"Receipt payment_object {obj!r}")
            item_sum = item.get("sum")
            if not isinstance(item_sum, int | Decimal) or not _RECEIPT_SUM.fullmatch(str(item_sum)):
                raise PageError(30, "Receipt item sum")
            total += Decimal(item_sum)
        if total != out_sum:
            raise PageError(30, f"Receipt total {total} differs from OutSum {out_sum}")
        return receipt

    # OpStateExt ---------------------------------------------------------------------------------

    def _op_state(self, params: list[tuple[str, str]]) -> tuple[int, str, str, dict[str, str]]:
        if self.op_state_delay:
            time.sleep(self.op_state_delay)
        if self.op_state_http_status is not None:
            return self.op_state_http_status, "Server Error", "text/html", {}
        values = dict(params)
        missing = [n for n in ("MerchantLogin", "InvoiceID", "Signature") if n not in values]
        if missing:
            return 500, f"Missing parameter: {missing[0]}.", "text/plain", {}
        login, inv_raw = values["MerchantLogin"], values["InvoiceID"]
        shop = self.shops.get(login)
        if self.op_state_result_code is not None:
            return self._op_state_xml(self.op_state_result_code)
        if shop is None:
            return self._op_state_xml(2)
        expected = fake_hash(shop.hash_algorithm, f"{login}:{inv_raw}:{shop.password2}")
        if not hmac.compare_digest(expected.upper().encode(), values["Signature"].upper().encode()):
            return self._op_state_xml(1)
        with self._lock:
            invoice = self.invoices.get((login, int(inv_raw))) if inv_raw.isdigit() else None
            if invoice is None or invoice.state is None:
                return self._op_state_xml(3)
            return self._op_state_xml(0, invoice)

    @staticmethod
    def _stamp(value: datetime) -> str:
        # Robokassa writes 7 fractional digits, which Python's fromisoformat refuses (§6).
        iso = value.isoformat(timespec="microseconds")
        return iso[:-6] + "7" + iso[-6:]

    def _op_state_xml(
        self, code: int, invoice: FakeInvoice | None = None
    ) -> tuple[int, str, str, dict[str, str]]:
        parts = [
            '<?xml version="1.0" encoding="utf-8"?>',
            f'<OperationStateResponse xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xmlns="{XML_NS}">',
            f"<Result><Code>{code}</Code><Description/></Result>",
        ]
        if code == 0 and invoice is not None:
            assert invoice.state is not None
            assert invoice.state_date is not None
            amount = format_amount(invoice.out_sum)
            parts += [
                f"<State><Code>{invoice.state}</Code>"
                f"<RequestDate>{self._stamp(datetime.now(MSK))}</RequestDate>"
                f"<StateDate>{self._stamp(invoice.state_date)}</StateDate></State>",
                "<Info><IncCurrLabel>BankCardPSR</IncCurrLabel>"
                f"<IncSum>{amount}</IncSum><IncAccount>220220******1234</IncAccount>"
                f"<PaymentMethod><Code>{escape(invoice.payment_method)}</Code>"
                "<Description>Банковская карта</Description></PaymentMethod>"
                f"<OutCurrLabel>RUR</OutCurrLabel><OutSum>{amount}</OutSum>"
                f"<OpKey>{invoice.op_key}</OpKey></Info>",
                "<UserField>"
                + "".join(
                    f"<Field><Name>{escape(k.lower())}</Name><Value>{escape(v)}</Value></Field>"
                    for k, v in invoice.shp
                )
                + "</UserField>",
            ]
        parts.append("</OperationStateResponse>")
        return 200, "".join(parts), "text/xml; charset=utf-8", {}

    # second receipt -----------------------------------------------------------------------------

    @staticmethod
    def _fiscal_answer(
        code: str, description: str, **extra: str
    ) -> tuple[int, str, str, dict[str, str]]:
        return (
            200,
            json.dumps({"ResultCode": code, "ResultDescription": description, **extra}),
            ("application/json"),
            {},
        )

    def _fiscal_payload(self, body: str) -> tuple[FakeShop, dict[str, Any]] | str:
        """The verified payload of a fiscal envelope, or the reason it is refused."""

        def b64decode(part: str) -> bytes:
            padded = part + "=" * (-len(part) % 4)
            return base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))

        try:
            payload_b64, signature_b64 = body.strip().split(".")
            payload = json.loads(b64decode(payload_b64), parse_float=Decimal)
            shop = self.shops[payload["merchantId"]]
        except (ValueError, KeyError, TypeError):
            return "bad request"
        digest = fake_hash(shop.hash_algorithm, payload_b64 + shop.password1)
        if not hmac.compare_digest(b64decode(signature_b64), digest.encode()):
            return "bad signature"
        return shop, payload

    def _receipt_attach(self, body: str) -> tuple[int, str, str, dict[str, str]]:
        if self.receipt_attach_http_status is not None:
            return self.receipt_attach_http_status, "error", "text/plain", {}
        verified = self._fiscal_payload(body)
        if isinstance(verified, str):
            return self._fiscal_answer("3", verified)
        shop, payload = verified
        problem = self._settlement_problem(shop, payload)
        if problem is not None:
            return self._fiscal_answer("3", problem)
        with self._lock:
            self.attached_receipts.append(payload)
        return self._fiscal_answer("0", "ok")

    def _settlement_problem(self, shop: FakeShop, payload: dict[str, Any]) -> str | None:
        receipt_id, origin_id = str(payload.get("id", "")), str(payload.get("originId", ""))
        if not receipt_id.isdigit() or not origin_id.isdigit():
            return "id and originId must be integers"
        if receipt_id == origin_id:
            return "id must differ from originId"
        with self._lock:
            if (shop.login, int(receipt_id)) in self.invoices:
                return "id is an operation of the shop"
            origin = self.invoices.get((shop.login, int(origin_id)))
            settled = [r for r in self.attached_receipts if r["merchantId"] == shop.login]
        if origin is None or origin.state != 100 or origin.is_test:
            return "originId is not a paid operation"
        if any(str(r["originId"]) == origin_id for r in settled):
            return "the operation already has its two receipts"
        if any(str(r["id"]) == receipt_id for r in settled):
            return "id already used"
        if payload.get("operation") != "sell":
            return "operation must be sell"
        items, payments = payload.get("items") or [], payload.get("payments") or []
        client = payload.get("client") or {}
        if not (client.get("email") or client.get("phone")):
            return "client email or phone required"
        if not items or len(items) > 100:
            return "1..100 items"
        if any(item.get("payment_method") != "full_payment" for item in items):
            return "payment_method must be full_payment"
        if any(len(str(item.get("name", ""))) > 128 for item in items):
            return "item name too long"
        if len(payments) != 1 or payments[0].get("type") != 2:
            return "payments must be one entry of type 2"
        total = Decimal(str(payload.get("total")))
        if total <= 0 or total.as_tuple().exponent < -2 or total >= Decimal("1e8"):
            return "bad total"
        if sum(Decimal(str(i["sum"])) for i in items) != total:
            return "total differs from the items"
        if Decimal(str(payments[0].get("sum"))) != total:
            return "total differs from the payments"
        if total > origin.out_sum:
            return "the offset exceeds the operation"
        taxes = {item.get("tax") for item in items}
        vats = payload.get("vats") or []
        if {v.get("type") for v in vats} != taxes:
            return "vats do not match the items' rates"
        if taxes & {"vat105", "vat107", "vat110", "vat120", "vat122"}:
            return "a settlement takes the nominal rate"
        return None

    def _receipt_status(self, body: str) -> tuple[int, str, str, dict[str, str]]:
        def answer(
            code: str, description: str, **extra: str
        ) -> tuple[int, str, str, dict[str, str]]:
            text = json.dumps({"Code": code, "Description": description, **extra})
            return 200, text, "application/json", {}

        if self.receipt_status_http_status is not None:
            return self.receipt_status_http_status, "error", "text/plain", {}
        verified = self._fiscal_payload(body)
        if isinstance(verified, str):
            return answer("3", verified)
        shop, payload = verified
        receipt_id = str(payload.get("id", ""))
        with self._lock:
            known = any(
                r["merchantId"] == shop.login and str(r["id"]) == receipt_id
                for r in self.attached_receipts
            )
            key = (shop.login, receipt_id)
            polls = self._receipt_polls.get(key, 0) + 1
            self._receipt_polls[key] = polls
        if not known:
            return answer("3", "receipt not found")
        if polls <= self.receipt_pending_polls:
            return answer("1", "awaiting registration")
        if self.receipt_registration_error:
            return answer("3", self.receipt_registration_error)
        return answer(
            "2",
            "registered",
            FnNumber="9999078900012345",
            FiscalDocumentNumber=str(1000 + len(self.attached_receipts)),
            FiscalDocumentAttribute="3715384217",
            FiscalDate=datetime.now(MSK).strftime("%Y-%m-%dT%H:%M:%S"),
            FiscalType="1",
        )

    def settlement_receipts(self, login: str) -> list[dict[str, Any]]:
        """The settlement receipts the shop has (accepted by Attach), in arrival order."""
        with self._lock:
            return [r for r in self.attached_receipts if r["merchantId"] == login]

    # Refund API (§8, fiscal.md §3) ------------------------------------------------------------

    def cabinet_refund(
        self, login: str, inv_id: int, amount: Decimal | int | str | None = None
    ) -> None:
        """The partner returns money of the payment in Robokassa's cabinet: nothing is sent to
        the platform. All of what is left (``amount`` omitted or equal to it): OpStateExt now
        says State 60. A part: the operation stays at State 100 (fiscal.md §5: a partial refund
        probably does not move the state, UNCERTAIN; the fake takes that safest reading)."""
        with self._lock:
            invoice = self.invoices[(login, inv_id)]
            left = invoice.out_sum - invoice.refunded
            part = left if amount is None else Decimal(str(amount))
            if not Decimal(0) < part <= left:
                raise ValueError(f"cannot return {part} of {left} left")
            invoice.refunded += part
            whole = invoice.refunded == invoice.out_sum
        if whole:
            self.set_state(login, inv_id, 60)

    def set_refund_label(self, request_id: str, label: str) -> None:
        """Move a refund request on by hand (e.g. ``canceled`` in the cabinet)."""
        with self._lock:
            refund = self.refunds[request_id]
            if label == "canceled" and refund.label != "canceled":
                self.invoices[(refund.login, refund.inv_id)].refunded -= refund.amount
            refund.label = label
            refund.polls = self.refund_processing_polls

    @staticmethod
    def _compact(text: str) -> bool:
        """No whitespace outside JSON strings (the payload "must be compact")."""
        in_string = escaped = False
        for char in text:
            if in_string:
                if escaped:
                    escaped = False
                elif char == "\\":
                    escaped = True
                elif char == '"':
                    in_string = False
                continue
            if char == '"':
                in_string = True
            elif char.isspace():
                return False
        return True

    def _refund_create(self, body: str, content_type: str) -> tuple[int, str, str, dict[str, str]]:
        def refused(message: str) -> tuple[int, str, str, dict[str, str]]:
            answer = {"success": False, "message": message, "requestId": None}
            return 200, json.dumps(answer), "application/json", {}

        if self.refund_delay:
            time.sleep(self.refund_delay)
        if self.refund_http_status is not None:
            return self.refund_http_status, "Server Error", "text/html", {}
        try:
            token = json.loads(body) if body.strip().startswith('"') else body.strip()
            header_b64, payload_b64, signature_b64 = str(token).split(".")
            header = json.loads(self._b64url_decode(header_b64))
            payload_text = self._b64url_decode(payload_b64).decode("utf-8")
            payload = json.loads(payload_text, parse_float=Decimal)
        except (ValueError, TypeError, UnicodeDecodeError):
            return refused("InvalidToken")
        algorithms = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
        digest = algorithms.get(header.get("alg", "") if isinstance(header, dict) else "")
        if digest is None or not isinstance(payload, dict):
            return refused("InvalidToken")
        if not self._compact(payload_text):
            return refused("InvalidToken")
        op_key = payload.get("OpKey")
        with self._lock:
            invoice = next(
                (i for i in self.invoices.values() if op_key and i.op_key == op_key), None
            )
            if invoice is None:
                return refused("OperationNotFound")
            shop = self.shops[invoice.login]
            if not shop.password3:
                return refused("RefundApiNotEnabled")
            expected = hmac.new(
                shop.password3.encode(), f"{header_b64}.{payload_b64}".encode(), digest
            ).digest()
            if not hmac.compare_digest(self._b64url_decode(signature_b64), expected):
                return refused("InvalidSignature")
            if invoice.is_test:
                return refused("TestOperationsNotSupported")
            if invoice.state != 100:
                return refused("OperationNotPaid")
            left = invoice.out_sum - invoice.refunded
            raw_sum = payload.get("RefundSum")
            if raw_sum is None:
                amount = left
            elif isinstance(raw_sum, int | Decimal) and not isinstance(raw_sum, bool):
                amount = Decimal(raw_sum)
            else:
                return refused("InvalidRefundSum")
            if amount <= 0 or amount.quantize(Decimal("0.01")) != amount:
                return refused("InvalidRefundSum")
            if amount > left:
                return refused("NotEnoughOperationFunds")
            items = payload.get("InvoiceItems") or []
            if not isinstance(items, list):
                return refused("InvalidInvoiceItems")
            if items:
                try:
                    total = sum(
                        (Decimal(i["Quantity"]) * Decimal(i["Cost"]) for i in items), Decimal(0)
                    )
                    valid = all(
                        isinstance(i.get("Name"), str)
                        and 1 <= len(i["Name"]) <= 128
                        and i.get("Tax") in TAX_VALUES
                        and i.get("PaymentMethod") in PAYMENT_METHOD_VALUES
                        and i.get("PaymentObject", "service") in PAYMENT_OBJECT_VALUES
                        for i in items
                    )
                except (KeyError, TypeError, ArithmeticError, AttributeError):
                    return refused("InvalidInvoiceItems")
                if not valid or total != amount:
                    return refused("InvalidInvoiceItems")
            invoice.refunded += amount
            refund = FakeRefund(
                request_id=str(uuid.uuid4()),
                login=invoice.login,
                inv_id=invoice.inv_id,
                amount=amount,
                items=items,
            )
            self.refunds[refund.request_id] = refund
        answer = {"success": True, "message": None, "requestId": refund.request_id}
        return 200, json.dumps(answer), "application/json", {}

    def _refund_state(self, params: dict[str, str]) -> tuple[int, str, str, dict[str, str]]:
        with self._lock:
            refund = self.refunds.get(params.get("id", ""))
            if refund is None:
                answer: dict[str, Any] = {"message": "Id is invalid or request id does not exist"}
                return 200, json.dumps(answer), "application/json", {}
            if refund.label == "processing":
                if refund.polls >= self.refund_processing_polls:
                    refund.label = "finished"
                    invoice = self.invoices[(refund.login, refund.inv_id)]
                    if invoice.refunded >= invoice.out_sum:
                        invoice.state = 60  # all of it went back
                        invoice.state_date = datetime.now(MSK)
                refund.polls += 1
            answer = {
                "requestId": refund.request_id,
                "amount": float(refund.amount),
                "label": refund.label,
            }
        return 200, json.dumps(answer), "application/json", {}

    @staticmethod
    def _b64url_decode(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
