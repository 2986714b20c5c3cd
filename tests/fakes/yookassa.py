"""A strict fake of YooKassa (API v3 and the OAuth server), written from shared/specs/yookassa.md.

It shares no code with ``billing_providers.yookassa`` so that a bug of the adapter is not
mirrored here. One object serves two ways: ``transport()`` (an in-process ``httpx`` transport, for
unit tests) and ``start()`` (a live HTTP server on 127.0.0.1, for the live stack and e2e tests,
like ``tests/fakes/robokassa.py``). Both go through ``handle``.

Usage::

    fake = FakeYooKassa()
    fake.register_shop("100500", "test_secret", fiscalization=True)
    provider = YooKassaProvider(api_base_url=fake.api_base_url, return_url="https://p/{invoice_id}",
                                http_client=httpx.Client(transport=fake.transport()),
                                notification_networks=["127.0.0.1/32"])
    issued = provider.issue_invoice(account, request)
    fake.pay(issued.payment_id)              # the buyer pays on the checkout page

What it enforces (Appendix A of the spec):

* Auth: Basic ``shopId:secretKey`` or Bearer token (OAuth), else 401 ``invalid_credentials``;
  ``/webhooks`` with Basic → 403 ``forbidden``; a revoked token → 401.
* ``Idempotence-Key`` on every POST/DELETE (400 ``invalid_request``, ``parameter`` naming it, when
  absent, longer than 64 or malformed). (credentials, key) → (request, answer) kept 24 h of the
  fake's clock: the same request gets the first answer again, another request with the key
  ``Idempotence key duplicated``.
* 415 for a POST that is not ``application/json``; 405 for a wrong verb; 404 ``not_found``.
* Payments: the body rules of §2.1, the receipt rules of §4 (sum of ``amount × quantity`` equals
  the payment), a receipt required when the shop fiscalizes; ``capture`` defaults to false; states
  pending → waiting_for_capture/succeeded/canceled with ``paid``, ``confirmation`` only while
  pending, ``expires_at`` while held, ``test`` from the shop.
* Capture/cancel only from waiting_for_capture; refunds only of succeeded payments, Σ ≤ amount,
  a receipt for a partial refund of a fiscalizing shop; ``POST /receipts`` rules of §4.5 (≤ 30 per
  payment, Σ settlements = Σ items, ``send: true``).
* Webhooks by API (Bearer only, one per event and token, https URLs unless
  ``allow_http_webhooks``); notifications POSTed to them, or to a shop's cabinet URL.
* OAuth: ``/oauth/v2/authorize`` (checks the app), ``/oauth/v2/token`` (Basic client auth, a code
  used once and within 5 minutes), ``/oauth/v2/revoke_token``.

Fake-only hooks (not YooKassa): the checkout page ``/_fake/checkout/<payment id>`` (``?action=pay``
or ``?action=decline&reason=…``), the owner's consent ``/_fake/oauth/consent``, and the Python
methods ``pay``, ``decline``, ``expire``, ``consent``, ``fail_next``, ``advance``.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

API_PREFIX = "/v3"
OAUTH_PREFIX = "/oauth/v2"
FAKE_PREFIX = "/_fake"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


CURRENCIES = _words("RUB EUR USD KZT BYN UAH UZS TRY INR MDL AZN AMD")
KEY_TTL = timedelta(hours=24)
CODE_TTL = timedelta(minutes=5)
FEE_RATE = Decimal("0.035")
PAYMENT_MODES = _words(
    "full_prepayment partial_prepayment advance full_payment partial_payment credit credit_payment"
)
PAYMENT_SUBJECTS = _words(
    """commodity excise job service gambling_bet gambling_prize lottery lottery_prize
    intellectual_activity payment agent_commission property_right non_operating_gain
    insurance_premium sales_tax resort_fee composite another fine tax lien cost
    pension_insurance_without_payouts pension_insurance_with_payouts
    health_insurance_without_payouts health_insurance_with_payouts health_insurance casino
    agent_withdrawals non_marked_excise marked_excise marked non_marked"""
)
MEASURES = _words(
    """piece gram kilogram ton centimeter decimeter meter square_centimeter square_decimeter
    square_meter milliliter liter cubic_meter kilowatt_hour gigacalorie day hour minute second
    kilobyte megabyte gigabyte terabyte another"""
)
SETTLEMENT_TYPES = frozenset({"cashless", "prepayment", "postpayment", "consideration"})
WEBHOOK_EVENTS = (
    "payment.waiting_for_capture",
    "payment.succeeded",
    "payment.canceled",
    "refund.succeeded",
)
CANCEL_REASONS = _words(
    """3d_secure_failed call_issuer card_expired payment_method_limit_exceeded
    payment_method_restricted country_forbidden general_decline fraud_suspected
    identification_required insufficient_funds invalid_card_number invalid_csc
    issuer_unavailable canceled_by_merchant permission_revoked internal_timeout
    expired_on_confirmation expired_on_capture unsupported_mobile_operator deal_expired"""
)
_KEY = re.compile(r"[0-9a-zA-Z+\-_.]{1,64}")
_RUB_VALUE = re.compile(r"[0-9]{1,15}\.[0-9]{2}")
_VALUE = re.compile(r"[0-9]{1,15}(\.[0-9]{1,3})?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"[0-9]{4,15}")


class ApiError(Exception):
    def __init__(self, status: int, code: str, description: str, parameter: str | None = None):
        super().__init__(status, code, description)
        self.status = status
        self.code = code
        self.description = description
        self.parameter = parameter

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "error",
            "id": str(uuid.uuid4()),
            "code": self.code,
            "description": self.description,
        }
        if self.parameter:
            body["parameter"] = self.parameter
        return body


def bad(description: str, parameter: str | None = None) -> ApiError:
    return ApiError(400, "invalid_request", description, parameter)


@dataclass
class FakeShop:
    shop_id: str
    secret_key: str = field(repr=False)
    test: bool = True
    fiscalization: bool = False
    fiscal_provider: str = "avanpost"  # Чеки от ЮKassa; another code = a third-party register
    cabinet_url: str | None = None
    cabinet_events: tuple[str, ...] = WEBHOOK_EVENTS


@dataclass
class FakeToken:
    token: str = field(repr=False)
    shop_id: str
    client_id: str
    revoked: bool = False


@dataclass
class FakeApp:
    client_id: str
    client_secret: str = field(repr=False)
    callback_url: str = ""


@dataclass
class Delivery:
    """One notification POST made by the fake (``status`` 0 = no HTTP answer)."""

    url: str
    body: dict[str, Any]
    status: int


@dataclass
class Forced:
    status: int
    code: str
    path_prefix: str
    times: int
    after: bool  # True: the request is processed, then the answer is lost (result unknown)
    retry_after: int | None


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"

    def content(self) -> bytes:
        if isinstance(self.body, (bytes, str)):
            return self.body.encode() if isinstance(self.body, str) else self.body
        return json.dumps(self.body, ensure_ascii=False).encode()


def _now_text(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def _amount(value: Decimal, currency: str = "RUB") -> dict[str, str]:
    return {"value": format(value.quantize(Decimal("0.01")), "f"), "currency": currency}


def _canonical(body: Any) -> str:
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class FakeYooKassa:
    """The fake. ``api_base_url`` (``…/v3``) and ``oauth_base_url`` (``…/oauth/v2``)."""

    def __init__(self, *, base_url: str = "https://fake-yookassa.test") -> None:
        self.shops: dict[str, FakeShop] = {}
        self.tokens: dict[str, FakeToken] = {}
        self.apps: dict[str, FakeApp] = {}
        self.codes: dict[str, tuple[str, str, datetime]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.receipts: dict[str, dict[str, Any]] = {}
        self.webhooks: dict[str, dict[str, Any]] = {}  # id → {id, event, url, token}
        self.owner: dict[str, str] = {}  # object id → shop id
        self.created_by_token: dict[str, str] = {}  # payment id → token that created it
        self.idempotence: dict[tuple[str, str], tuple[str, Answer, datetime]] = {}
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self.deliveries: list[Delivery] = []
        self.forced: list[Forced] = []
        self.offset = timedelta(0)
        # Knobs
        self.allow_http_webhooks = False
        self.auto_notify = True
        self.notify_attempts = 1
        self.refund_status = "succeeded"  # or "pending": succeeds after refund_pending_polls GETs
        self.refund_pending_polls = 1
        self.receipt_pending_polls = 1
        self.receipt_registration_error = False
        self._polls: dict[str, int] = {}
        self._outbox: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.RLock()
        self._base_url = base_url.rstrip("/")
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.notify_client = httpx.Client(timeout=10)

    # serving ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._server is not None:
            host, port = self._server.server_address[:2]
            return f"http://{host!s}:{port}"
        return self._base_url

    @property
    def api_base_url(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def oauth_base_url(self) -> str:
        return self.base_url + OAUTH_PREFIX

    def transport(self) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            answer = self.handle(
                request.method,
                request.url.path,
                dict(parse_qsl(request.url.query.decode(), keep_blank_values=True)),
                {k.lower(): v for k, v in request.headers.items()},
                request.content,
            )
            headers = [("Content-Type", answer.content_type), *answer.headers]
            return httpx.Response(answer.status, headers=headers, content=answer.content())

        return httpx.MockTransport(handler)

    def start(self) -> FakeYooKassa:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
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
        self._server = self._thread = None
        self.notify_client.close()

    def __enter__(self) -> FakeYooKassa:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # set-up -----------------------------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock (idempotence keys, OAuth codes) forward."""
        self.offset += timedelta(seconds=seconds)

    def register_shop(self, shop_id: str, secret_key: str, **options: Any) -> FakeShop:
        shop = FakeShop(shop_id, secret_key, **options)
        self.shops[shop_id] = shop
        return shop

    def register_app(self, client_id: str, client_secret: str, callback_url: str) -> FakeApp:
        app = FakeApp(client_id, client_secret, callback_url)
        self.apps[client_id] = app
        return app

    def issue_token(self, shop_id: str, client_id: str = "app") -> str:
        token = "oauth_" + uuid.uuid4().hex
        self.tokens[token] = FakeToken(token, shop_id, client_id)
        return token

    def fail_next(
        self,
        status: int = 500,
        *,
        code: str | None = None,
        path_prefix: str = "",
        times: int = 1,
        after: bool = False,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next ``times`` API requests under ``path_prefix`` with ``status``
        (429 ``too_many_requests``, 500 ``internal_server_error``, 202 processing). With
        ``after`` the request is carried out first and only its answer is replaced."""
        default = {429: "too_many_requests", 500: "internal_server_error", 202: "processing"}
        self.forced.append(
            Forced(
                status, code or default.get(status, "error"), path_prefix, times, after, retry_after
            )
        )

    def consent(self, client_id: str, shop_id: str, state: str, *, allow: bool = True) -> str:
        """The owner's answer on YooKassa's consent page: the redirect to the app's callback."""
        app = self.apps[client_id]
        if not allow:
            query = {"error": "access_denied", "state": state}
        else:
            code = uuid.uuid4().hex
            self.codes[code] = (client_id, shop_id, self.now())
            query = {"code": code, "state": state}
        separator = "&" if "?" in app.callback_url else "?"
        return app.callback_url + separator + urlencode(query)

    # the buyer (fake-only) --------------------------------------------------------------------

    def payment(self, payment_id: str) -> dict[str, Any]:
        return self.payments[payment_id]

    def pay(self, payment_id: str, *, method: str = "bank_card") -> dict[str, Any]:
        """The buyer pays: held (capture false) or succeeded; the notification is sent."""
        payment = self._pay(payment_id, method)
        self._flush()
        return payment

    def _pay(self, payment_id: str, method: str) -> dict[str, Any]:
        with self._lock:
            payment = self.payments[payment_id]
            if payment["status"] != "pending":
                raise ValueError(f"payment {payment_id} is {payment['status']}")
            payment.pop("confirmation", None)
            payment["paid"] = True
            payment["payment_method"] = {
                "type": method,
                "id": payment_id,
                "saved": False,
                "title": "Bank card *4444",
                "card": {
                    "first6": "555555",
                    "last4": "4444",
                    "expiry_month": "12",
                    "expiry_year": "2030",
                    "card_type": "MasterCard",
                    "issuer_country": "RU",
                },
            }
            payment["authorization_details"] = {
                "rrn": "603668680243",
                "auth_code": "062467",
                "three_d_secure": {"applied": False},
            }
            if payment.pop("_capture"):
                self._succeed(payment)
                event = "payment.succeeded"
            else:
                payment["status"] = "waiting_for_capture"
                payment["expires_at"] = _now_text(self.now() + timedelta(days=7))
                event = "payment.waiting_for_capture"
            self._auto_notify(event, payment)
        return payment

    def decline(self, payment_id: str, reason: str = "insufficient_funds") -> dict[str, Any]:
        assert reason in CANCEL_REASONS
        payment = self._cancel(payment_id, "payment_network", reason)
        self._flush()
        return payment

    def expire(self, payment_id: str) -> dict[str, Any]:
        payment = self._cancel(payment_id, "yoo_money", "expired_on_confirmation")
        self._flush()
        return payment

    def _cancel(self, payment_id: str, party: str, reason: str) -> dict[str, Any]:
        with self._lock:
            payment = self.payments[payment_id]
            if payment["status"] not in ("pending", "waiting_for_capture"):
                raise ValueError(f"payment {payment_id} is final")
            payment.pop("confirmation", None)
            payment.pop("expires_at", None)
            payment.pop("_capture", None)
            payment["status"] = "canceled"
            payment["paid"] = False
            payment["cancellation_details"] = {"party": party, "reason": reason}
        self._auto_notify("payment.canceled", payment)
        return payment

    def _succeed(self, payment: dict[str, Any]) -> None:
        amount = Decimal(payment["amount"]["value"])
        payment["status"] = "succeeded"
        payment["paid"] = True
        payment["captured_at"] = _now_text(self.now())
        payment["income_amount"] = _amount(amount - (amount * FEE_RATE).quantize(Decimal("0.01")))
        payment["refundable"] = True
        payment["refunded_amount"] = _amount(Decimal(0))
        payment.pop("expires_at", None)
        payment.pop("_capture", None)
        if payment.get("_receipt"):
            payment["receipt_registration"] = "succeeded"

    # notifications ----------------------------------------------------------------------------

    def notification(self, event: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        """The body YooKassa POSTs (§6.1): the object as it is at the event."""
        public = {k: v for k, v in obj.items() if not k.startswith("_")}
        return {"type": "notification", "event": event, "object": json.loads(json.dumps(public))}

    def notification_urls(self, event: str, obj: Mapping[str, Any]) -> list[str]:
        payment_id = obj.get("payment_id") or obj["id"]
        token = self.created_by_token.get(str(payment_id))
        if token is not None:
            return [
                hook["url"]
                for hook in self.webhooks.values()
                if hook["token"] == token and hook["event"] == event
            ]
        shop = self.shops[self.owner[str(obj["id"])]]
        return [shop.cabinet_url] if shop.cabinet_url and event in shop.cabinet_events else []

    def deliver(self, url: str, body: dict[str, Any]) -> Delivery:
        """POST one notification; repeated ``notify_attempts`` times until HTTP 200 (§6.3)."""
        delivery = Delivery(url, body, 0)
        for _attempt in range(max(1, self.notify_attempts)):
            try:
                response = self.notify_client.post(url, json=body)
                delivery = Delivery(url, body, response.status_code)
            except httpx.HTTPError:
                delivery = Delivery(url, body, 0)
            self.deliveries.append(delivery)
            if delivery.status == 200:
                break
        return delivery

    def _auto_notify(self, event: str, obj: Mapping[str, Any]) -> None:
        # Queued under the lock, sent after it is released (``_flush``): the receiver reads the
        # object back from this fake while the notification is being delivered.
        if self.auto_notify:
            body = self.notification(event, obj)
            self._outbox.extend((url, body) for url in self.notification_urls(event, obj))

    def _flush(self) -> None:
        while True:
            with self._lock:
                if not self._outbox:
                    return
                url, body = self._outbox.pop(0)
            self.deliver(url, body)

    # request handling --------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Answer:
        """One HTTP request (headers with lower-case names)."""
        try:
            return self._handle(method, path, query, headers, body)
        finally:
            self._flush()

    def _handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Answer:
        with self._lock:
            self.requests.append((method, path, dict(query), body))
            try:
                if path.startswith(FAKE_PREFIX):
                    return self._fake_route(method, path, query)
                if path.startswith(OAUTH_PREFIX):
                    return self._oauth_route(
                        method, path[len(OAUTH_PREFIX) :], query, headers, body
                    )
                if path.startswith(API_PREFIX + "/"):
                    return self._api(method, path[len(API_PREFIX) :], query, headers, body)
                raise ApiError(404, "not_found", "Unknown path")
            except ApiError as error:
                return Answer(error.status, error.body())

    def _api(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        raw: bytes,
    ) -> Answer:
        route, params = self._route(method, path)
        identity, shop, token = self._auth(headers.get("authorization", ""))
        if path.startswith("/webhooks") and token is None:
            raise ApiError(403, "forbidden", "Webhooks are available with an OAuth token only")
        forced = self._forced(path, after=False)
        if forced is not None:
            return forced
        if method in ("POST", "DELETE"):
            key = headers.get("idempotence-key")
            if key is None:
                raise bad("Idempotence key is missing", "Idempotence-Key")
            if len(key) > 64:
                raise bad(
                    "Idempotence key is too long. Send the value in accordance with the "
                    "documentation",
                    "Idempotence-Key",
                )
            if not _KEY.fullmatch(key):
                raise bad("Idempotence key is invalid", "Idempotence-Key")
            body: Any = {}
            if method == "POST":
                content_type = headers.get("content-type", "")
                if not content_type.startswith("application/json"):
                    return Answer(415, {"type": "error", "code": "unsupported_media_type"})
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        raise bad("The request body is not JSON") from None
                if not isinstance(body, dict):
                    raise bad("The request body must be an object")
            fingerprint = f"{method} {path} {_canonical(body)}"
            stored = self.idempotence.get((identity, key))
            if stored is not None and self.now() - stored[2] < KEY_TTL:
                if stored[0] != fingerprint:
                    raise bad("Idempotence key duplicated", "Idempotence-Key")
                return stored[1]
            try:
                answer = Answer(200, route(shop, token, params, body))
            except ApiError as error:
                answer = Answer(error.status, error.body())
            self.idempotence[(identity, key)] = (fingerprint, answer, self.now())
        else:
            answer = Answer(200, route(shop, token, params, dict(query)))
        forced = self._forced(path, after=True)
        return forced if forced is not None else answer

    def _forced(self, path: str, *, after: bool) -> Answer | None:
        for forced in self.forced:
            if forced.after == after and path.startswith(forced.path_prefix) and forced.times > 0:
                forced.times -= 1
                body: dict[str, Any] = {
                    "type": "error",
                    "id": str(uuid.uuid4()),
                    "code": forced.code,
                }
                if forced.retry_after is not None:
                    body["retry_after"] = forced.retry_after
                return Answer(forced.status, body)
        return None

    def _auth(self, header: str) -> tuple[str, FakeShop, str | None]:
        scheme, _, value = header.partition(" ")
        if scheme == "Basic":
            try:
                shop_id, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                shop_id = secret = ""
            shop = self.shops.get(shop_id)
            if shop is not None and secret and secret == shop.secret_key:
                return f"basic:{shop_id}", shop, None
        elif scheme == "Bearer":
            token = self.tokens.get(value)
            if token is not None and not token.revoked:
                return f"bearer:{value}", self.shops[token.shop_id], value
        raise ApiError(401, "invalid_credentials", "Authentication error")

    def _route(self, method: str, path: str) -> tuple[Any, list[str]]:
        parts = [part for part in path.split("/") if part]
        routes: dict[tuple[str, ...], dict[str, Any]] = {
            ("payments",): {"POST": self._create_payment, "GET": self._list_payments},
            ("payments", "*"): {"GET": self._get_payment},
            ("payments", "*", "capture"): {"POST": self._capture},
            ("payments", "*", "cancel"): {"POST": self._cancel_by_merchant},
            ("refunds",): {"POST": self._create_refund, "GET": self._list_refunds},
            ("refunds", "*"): {"GET": self._get_refund},
            ("receipts",): {"POST": self._create_receipt, "GET": self._list_receipts},
            ("receipts", "*"): {"GET": self._get_receipt},
            ("webhooks",): {"POST": self._create_webhook, "GET": self._list_webhooks},
            ("webhooks", "*"): {"DELETE": self._delete_webhook},
            ("me",): {"GET": self._me},
        }
        for shape, methods in routes.items():
            if len(shape) == len(parts) and all(s in ("*", p) for s, p in zip(shape, parts)):
                if method not in methods:
                    raise ApiError(405, "method_not_allowed", "Method not allowed")
                return methods[method], [p for s, p in zip(shape, parts) if s == "*"]
        raise ApiError(404, "not_found", "Unknown path")

    def _own(
        self, kind: dict[str, dict[str, Any]], object_id: str, shop: FakeShop
    ) -> dict[str, Any]:
        obj = kind.get(object_id)
        if obj is None or self.owner.get(object_id) != shop.shop_id:
            raise ApiError(404, "not_found", "Object not found")
        return obj

    @staticmethod
    def _public(obj: Mapping[str, Any]) -> dict[str, Any]:
        return json.loads(json.dumps({k: v for k, v in obj.items() if not k.startswith("_")}))

    # validation ---------------------------------------------------------------------------------

    @staticmethod
    def _money(raw: Any, parameter: str) -> Decimal:
        if not isinstance(raw, dict) or set(raw) - {"value", "currency"}:
            raise bad("Amount must be an object with value and currency", parameter)
        value, currency = raw.get("value"), raw.get("currency")
        if currency not in CURRENCIES:
            raise bad("Unknown currency", f"{parameter}.currency")
        # The fake's choice (spec Appendix A.4): strings, exactly two decimals for RUB.
        pattern = _RUB_VALUE if currency == "RUB" else _VALUE
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise bad("Amount value must be a string with two decimals", f"{parameter}.value")
        amount = Decimal(value)
        if amount <= 0:
            raise bad("Amount must be positive", f"{parameter}.value")
        return amount

    @staticmethod
    def _metadata(raw: Any) -> dict[str, Any] | None:
        if raw is None:
            return None
        if not isinstance(raw, dict) or len(raw) > 16:
            raise bad("Metadata: at most 16 keys", "metadata")
        for key, value in raw.items():
            if (
                len(key) > 32
                or not (value is None or isinstance(value, str))
                or len(value or "") > 512
            ):
                raise bad("Metadata keys ≤ 32, string values ≤ 512", "metadata")
        return raw

    def _receipt_items(
        self, items: Any, shop: FakeShop, *, parameter: str, post_receipt: bool = False
    ) -> Decimal:
        limit = 80 if shop.fiscal_provider == "avanpost" else 100
        if not isinstance(items, list) or not 1 <= len(items) <= limit:
            raise bad(f"A receipt has 1-{limit} items", f"{parameter}.items")
        total = Decimal(0)
        for index, item in enumerate(items):
            where = f"{parameter}.items[{index}]"
            if not isinstance(item, dict):
                raise bad("An item must be an object", where)
            description = item.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 128:
                raise bad("Item description: 1-128 characters", f"{where}.description")
            try:
                quantity = Decimal(str(item.get("quantity")))
            except InvalidOperation:
                raise bad("Item quantity is not a number", f"{where}.quantity") from None
            exponent = quantity.as_tuple().exponent
            if (
                quantity <= 0
                or not isinstance(exponent, int)
                or exponent < -3
                or quantity > Decimal("99999.999")
            ):
                raise bad("Item quantity: > 0, at most 3 decimals", f"{where}.quantity")
            vat = item.get("vat_code")
            if isinstance(vat, str) and vat.isdigit():
                vat = int(vat)
            if not isinstance(vat, int) or isinstance(vat, bool) or not 1 <= vat <= 12:
                raise bad("vat_code must be 1-12", f"{where}.vat_code")
            if item.get("payment_mode") not in PAYMENT_MODES:
                raise bad("Unknown payment_mode", f"{where}.payment_mode")
            if item.get("payment_subject") not in PAYMENT_SUBJECTS:
                raise bad("Unknown payment_subject", f"{where}.payment_subject")
            measure = item.get("measure")
            if measure is None and shop.fiscal_provider == "avanpost":
                raise bad("measure is required", f"{where}.measure")
            if measure is not None and measure not in MEASURES:
                raise bad("Unknown measure", f"{where}.measure")
            if not post_receipt and ("supplier" in item or "agent_type" in item):
                raise bad("supplier/agent_type only on POST /receipts", where)
            total += self._money(item.get("amount"), f"{where}.amount") * quantity
        return total

    def _customer(self, raw: Any, shop: FakeShop, parameter: str) -> None:
        if not isinstance(raw, dict):
            raise bad("The receipt needs a customer", f"{parameter}.customer")
        email, phone = raw.get("email"), raw.get("phone")
        if email is not None and (not isinstance(email, str) or not _EMAIL.fullmatch(email)):
            raise bad("Bad customer e-mail", f"{parameter}.customer.email")
        if phone is not None and (not isinstance(phone, str) or not _PHONE.fullmatch(phone)):
            raise bad("Customer phone: digits only", f"{parameter}.customer.phone")
        if shop.fiscal_provider == "avanpost" and not email:
            raise bad("Чеки от ЮKassa need the customer's e-mail", f"{parameter}.customer.email")
        if not email and not phone:
            raise bad("The customer needs an e-mail or a phone", f"{parameter}.customer")

    def _receipt(
        self, raw: Any, shop: FakeShop, total: Decimal, parameter: str = "receipt"
    ) -> None:
        if not isinstance(raw, dict):
            raise bad("Receipt must be an object", parameter)
        self._customer(raw.get("customer"), shop, parameter)
        items_total = self._receipt_items(raw.get("items"), shop, parameter=parameter)
        code = raw.get("tax_system_code")
        if code is not None and (not isinstance(code, int) or not 1 <= code <= 6):
            raise bad("tax_system_code must be 1-6", f"{parameter}.tax_system_code")
        if items_total != total:
            raise bad("The sum of the receipt items differs from the amount", parameter)

    # payments -------------------------------------------------------------------------------

    def _create_payment(
        self, shop: FakeShop, token: str | None, _params: list[str], body: dict[str, Any]
    ) -> dict[str, Any]:
        amount = self._money(body.get("amount"), "amount")
        description = body.get("description")
        if description is not None and (not isinstance(description, str) or len(description) > 128):
            raise bad("Description: at most 128 characters", "description")
        metadata = self._metadata(body.get("metadata"))
        capture = body.get("capture", False)
        if not isinstance(capture, bool):
            raise bad("capture must be a boolean", "capture")
        confirmation = body.get("confirmation")
        public_confirmation: dict[str, Any] | None = None
        if confirmation is not None:
            if not isinstance(confirmation, dict) or confirmation.get("type") != "redirect":
                raise bad("Only redirect confirmation is supported by this fake", "confirmation")
            return_url = confirmation.get("return_url")
            if not isinstance(return_url, str) or not return_url or len(return_url) > 2048:
                raise bad(
                    "return_url is required, at most 2048 characters", "confirmation.return_url"
                )
            locale = confirmation.get("locale")
            if locale is not None and locale not in ("ru_RU", "en_US"):
                raise bad("locale must be ru_RU or en_US", "confirmation.locale")
        receipt = body.get("receipt")
        if receipt is None and shop.fiscalization:
            raise bad("Receipt is required: the shop sends receipts", "receipt")
        if receipt is not None:
            self._receipt(receipt, shop, amount)
        payment_id = str(uuid.uuid4())
        if confirmation is not None:
            public_confirmation = {
                "type": "redirect",
                "return_url": confirmation["return_url"],
                "confirmation_url": f"{self.base_url}{FAKE_PREFIX}/checkout/{payment_id}",
            }
        payment: dict[str, Any] = {
            "id": payment_id,
            "status": "pending",
            "paid": False,
            "amount": body["amount"],
            "created_at": _now_text(self.now()),
            "recipient": {"account_id": shop.shop_id, "gateway_id": "100700"},
            "refundable": False,
            "test": shop.test,
            "_capture": capture,
            "_receipt": receipt is not None,
            "_return_url": (confirmation or {}).get("return_url", ""),
        }
        if description is not None:
            payment["description"] = description
        if metadata is not None:
            payment["metadata"] = metadata
        if public_confirmation is not None:
            payment["confirmation"] = public_confirmation
        if receipt is not None:
            payment["receipt_registration"] = "pending"
        self.payments[payment_id] = payment
        self.owner[payment_id] = shop.shop_id
        if token is not None:
            self.created_by_token[payment_id] = token
        return self._public(payment)

    def _get_payment(
        self, shop: FakeShop, _t: str | None, params: list[str], _q: Any
    ) -> dict[str, Any]:
        return self._public(self._own(self.payments, params[0], shop))

    def _list(self, items: list[dict[str, Any]], query: Mapping[str, str]) -> dict[str, Any]:
        try:
            limit = int(query.get("limit", "10"))
        except ValueError:
            raise bad("limit must be a number", "limit") from None
        if not 1 <= limit <= 100:
            raise bad("limit must be 1-100", "limit")
        for name, compare in (
            ("created_at.gte", lambda a, b: a >= b),
            ("created_at.gt", lambda a, b: a > b),
            ("created_at.lte", lambda a, b: a <= b),
            ("created_at.lt", lambda a, b: a < b),
        ):
            if name in query:
                try:
                    bound = datetime.fromisoformat(query[name].replace("Z", "+00:00"))
                except ValueError:
                    raise bad("Bad date", name) from None
                items = [
                    i
                    for i in items
                    if compare(
                        datetime.fromisoformat(i["created_at"].replace("Z", "+00:00")), bound
                    )
                ]
        if "status" in query:
            items = [i for i in items if i["status"] == query["status"]]
        items = sorted(items, key=lambda i: i["created_at"], reverse=True)
        start = 0
        if "cursor" in query:
            try:
                start = int(base64.urlsafe_b64decode(query["cursor"].encode()).decode())
            except ValueError:
                raise bad("Bad cursor", "cursor") from None
        page = items[start : start + limit]
        answer: dict[str, Any] = {"type": "list", "items": [self._public(i) for i in page]}
        if start + limit < len(items):
            answer["next_cursor"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
        return answer

    def _list_payments(
        self, shop: FakeShop, _t: str | None, _p: list[str], query: Any
    ) -> dict[str, Any]:
        mine = [p for pid, p in self.payments.items() if self.owner[pid] == shop.shop_id]
        return self._list(mine, query)

    def _capture(
        self, shop: FakeShop, _t: str | None, params: list[str], body: dict[str, Any]
    ) -> dict[str, Any]:
        payment = self._own(self.payments, params[0], shop)
        if payment["status"] != "waiting_for_capture":
            raise bad("Payment is not waiting for capture", "payment_id")
        if "amount" in body:
            amount = self._money(body["amount"], "amount")
            if amount > Decimal(payment["amount"]["value"]):
                raise bad("Capture amount exceeds the payment", "amount")
            payment["amount"] = body["amount"]
        self._succeed(payment)
        self._auto_notify("payment.succeeded", payment)
        return self._public(payment)

    def _cancel_by_merchant(
        self, shop: FakeShop, _t: str | None, params: list[str], _b: dict[str, Any]
    ) -> dict[str, Any]:
        payment = self._own(self.payments, params[0], shop)
        if payment["status"] != "waiting_for_capture":
            raise bad("Only a payment waiting for capture can be canceled", "payment_id")
        return self._public(self._cancel(payment["id"], "merchant", "canceled_by_merchant"))

    # refunds --------------------------------------------------------------------------------

    def _create_refund(
        self, shop: FakeShop, token: str | None, _p: list[str], body: dict[str, Any]
    ) -> dict[str, Any]:
        payment_id = body.get("payment_id")
        if not isinstance(payment_id, str) or len(payment_id) != 36:
            raise bad("payment_id is required", "payment_id")
        payment = self.payments.get(payment_id)
        if payment is None or self.owner.get(payment_id) != shop.shop_id:
            raise bad("Payment not found", "payment_id")
        if payment["status"] != "succeeded":
            raise bad("Only a succeeded payment can be refunded", "payment_id")
        amount = self._money(body.get("amount"), "amount")
        if body["amount"]["currency"] != payment["amount"]["currency"]:
            raise bad("Refund currency differs from the payment", "amount.currency")
        paid = Decimal(payment["amount"]["value"])
        refunded = Decimal(payment.get("refunded_amount", {}).get("value", "0")) + sum(
            (
                Decimal(r["amount"]["value"])
                for r in self.refunds.values()
                if r["payment_id"] == payment_id and r["status"] == "pending"
            ),
            Decimal(0),
        )
        if amount > paid - refunded:
            raise bad("The refund exceeds what is left of the payment", "amount")
        description = body.get("description")
        if description is not None and (not isinstance(description, str) or len(description) > 250):
            raise bad("Description: at most 250 characters", "description")
        metadata = self._metadata(body.get("metadata"))
        receipt = body.get("receipt")
        if receipt is None and shop.fiscalization and amount != paid:
            raise bad("A partial refund needs a receipt", "receipt")
        if receipt is not None:
            self._receipt(receipt, shop, amount)
        refund_id = str(uuid.uuid4())
        refund: dict[str, Any] = {
            "id": refund_id,
            "payment_id": payment_id,
            "status": "pending",
            "amount": body["amount"],
            "created_at": _now_text(self.now()),
        }
        if description is not None:
            refund["description"] = description
        if metadata is not None:
            refund["metadata"] = metadata
        if shop.fiscalization:
            refund["receipt_registration"] = "pending"
        self.refunds[refund_id] = refund
        self.owner[refund_id] = shop.shop_id
        if self.refund_status == "succeeded":
            self._refund_succeeded(refund)
        return self._public(refund)

    def _refund_succeeded(self, refund: dict[str, Any]) -> None:
        payment = self.payments[refund["payment_id"]]
        refund["status"] = "succeeded"
        if "receipt_registration" in refund:
            refund["receipt_registration"] = "succeeded"
        total = Decimal(payment["refunded_amount"]["value"]) + Decimal(refund["amount"]["value"])
        payment["refunded_amount"] = _amount(total)
        if total == Decimal(payment["amount"]["value"]):
            payment["refundable"] = False
        self._auto_notify("refund.succeeded", refund)

    def cancel_refund(self, refund_id: str, reason: str = "general_decline") -> None:
        """A pending refund is refused by the bank (fake-only)."""
        refund = self.refunds[refund_id]
        assert refund["status"] == "pending"
        refund["status"] = "canceled"
        refund["cancellation_details"] = {"party": "refund_network", "reason": reason}

    def _get_refund(
        self, shop: FakeShop, _t: str | None, params: list[str], _q: Any
    ) -> dict[str, Any]:
        refund = self._own(self.refunds, params[0], shop)
        if refund["status"] == "pending" and self.refund_status == "pending":
            polls = self._polls.get(refund["id"], 0) + 1
            self._polls[refund["id"]] = polls
            if polls >= self.refund_pending_polls:
                self._refund_succeeded(refund)
        return self._public(refund)

    def _list_refunds(
        self, shop: FakeShop, _t: str | None, _p: list[str], query: Any
    ) -> dict[str, Any]:
        mine = [r for rid, r in self.refunds.items() if self.owner[rid] == shop.shop_id]
        if "payment_id" in query:
            mine = [r for r in mine if r["payment_id"] == query["payment_id"]]
        return self._list(mine, query)

    # receipts --------------------------------------------------------------------------------

    def _create_receipt(
        self, shop: FakeShop, _t: str | None, _p: list[str], body: dict[str, Any]
    ) -> dict[str, Any]:
        kind = body.get("type")
        if kind not in ("payment", "refund"):
            raise bad("type must be payment or refund", "type")
        if body.get("send") is not True:
            raise bad("send must be true", "send")
        self._customer(body.get("customer"), shop, "receipt")
        items_total = self._receipt_items(
            body.get("items"), shop, parameter="receipt", post_receipt=True
        )
        settlements = body.get("settlements")
        if not isinstance(settlements, list) or not settlements:
            raise bad("settlements are required", "settlements")
        settled = Decimal(0)
        for index, settlement in enumerate(settlements):
            if not isinstance(settlement, dict) or settlement.get("type") not in SETTLEMENT_TYPES:
                raise bad("Unknown settlement type", f"settlements[{index}].type")
            settled += self._money(settlement.get("amount"), f"settlements[{index}].amount")
        if settled != items_total:
            raise bad("The settlements differ from the items", "settlements")
        code = body.get("tax_system_code")
        if code is not None and (not isinstance(code, int) or not 1 <= code <= 6):
            raise bad("tax_system_code must be 1-6", "tax_system_code")
        link_name = "payment_id" if kind == "payment" else "refund_id"
        link = body.get(link_name)
        store = self.payments if kind == "payment" else self.refunds
        if not isinstance(link, str) or link not in store or self.owner.get(link) != shop.shop_id:
            raise bad(f"{link_name} is required and must be this shop's", link_name)
        if kind == "payment" and store[link]["status"] not in ("waiting_for_capture", "succeeded"):
            raise bad("The payment is neither held nor succeeded", link_name)
        if kind == "refund" and store[link]["status"] != "succeeded":
            raise bad("The refund has not succeeded", link_name)
        if sum(1 for r in self.receipts.values() if r.get(link_name) == link) >= 30:
            raise bad("At most 30 receipts per object", link_name)
        receipt_id = "rt-" + str(uuid.uuid4())
        receipt: dict[str, Any] = {
            "id": receipt_id,
            "type": kind,
            link_name: link,
            "status": "pending",
            "items": [
                {**item, "quantity": f"{Decimal(str(item['quantity'])):.3f}"}
                for item in body["items"]
            ],
            "settlements": settlements,
            "created_at": _now_text(self.now()),
            "_customer": body["customer"],
        }
        if code is not None:
            receipt["tax_system_code"] = code
        self.receipts[receipt_id] = receipt
        self.owner[receipt_id] = shop.shop_id
        return self._public(receipt)

    def _get_receipt(
        self, shop: FakeShop, _t: str | None, params: list[str], _q: Any
    ) -> dict[str, Any]:
        receipt = self._own(self.receipts, params[0], shop)
        if receipt["status"] == "pending":
            polls = self._polls.get(receipt["id"], 0) + 1
            self._polls[receipt["id"]] = polls
            if polls >= self.receipt_pending_polls:
                if self.receipt_registration_error:
                    receipt["status"] = "canceled"
                else:
                    receipt.update(
                        status="succeeded",
                        fiscal_document_number="3986",
                        fiscal_storage_number="9288000100115785",
                        fiscal_attribute="2617603921",
                        registered_at=_now_text(self.now()),
                        fiscal_provider_id="fd9e9404-eaca-4000-8ec9-dc228ead2345",
                    )
        return self._public(receipt)

    def _list_receipts(
        self, shop: FakeShop, _t: str | None, _p: list[str], query: Any
    ) -> dict[str, Any]:
        if "payment_id" in query and "refund_id" in query:
            raise bad("payment_id or refund_id, not both", "payment_id")
        mine = [r for rid, r in self.receipts.items() if self.owner[rid] == shop.shop_id]
        for name in ("payment_id", "refund_id"):
            if name in query:
                mine = [r for r in mine if r.get(name) == query[name]]
        return self._list(mine, query)

    def settlement_receipts(self, payment_id: str) -> list[dict[str, Any]]:
        return [r for r in self.receipts.values() if r.get("payment_id") == payment_id]

    # webhooks and shop -------------------------------------------------------------------------

    def _create_webhook(
        self, shop: FakeShop, token: str | None, _p: list[str], body: dict[str, Any]
    ) -> dict[str, Any]:
        event, url = body.get("event"), body.get("url")
        if event not in WEBHOOK_EVENTS:
            raise bad("Unknown event", "event")
        if not isinstance(url, str) or not url:
            raise bad("url is required", "url")
        split = urlsplit(url)
        if not self.allow_http_webhooks and (
            split.scheme != "https" or (split.port or 443) not in (443, 8443)
        ):
            raise bad("The URL must be HTTPS on port 443 or 8443", "url")
        for hook in self.webhooks.values():
            if hook["token"] == token and hook["event"] == event:
                if hook["url"] == url:
                    return self._public(hook)
                raise bad("A webhook for this event already exists", "event")
        hook_id = "wh-" + str(uuid.uuid4())
        hook = {"id": hook_id, "event": event, "url": url, "token": token}
        self.webhooks[hook_id] = hook
        return {"id": hook_id, "event": event, "url": url}

    def _list_webhooks(
        self, shop: FakeShop, token: str | None, _p: list[str], _q: Any
    ) -> dict[str, Any]:
        items = [
            {"id": h["id"], "event": h["event"], "url": h["url"]}
            for h in self.webhooks.values()
            if h["token"] == token
        ]
        return {"type": "list", "items": items}

    def _delete_webhook(
        self, shop: FakeShop, token: str | None, params: list[str], _b: Any
    ) -> dict[str, Any]:
        hook = self.webhooks.get(params[0])
        if hook is None or hook["token"] != token:
            raise ApiError(404, "not_found", "Webhook not found")
        del self.webhooks[params[0]]
        return {}

    def _me(self, shop: FakeShop, _t: str | None, _p: list[str], _q: Any) -> dict[str, Any]:
        me: dict[str, Any] = {
            "account_id": shop.shop_id,
            "status": "enabled",
            "test": shop.test,
            "fiscalization_enabled": shop.fiscalization,
            "payment_methods": ["bank_card", "yoo_money"] if shop.test else ["bank_card", "sbp"],
        }
        if shop.fiscalization:
            me["fiscalization"] = {"enabled": True, "provider": shop.fiscal_provider}
        return me

    # OAuth -----------------------------------------------------------------------------------

    def _oauth_route(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        raw: bytes,
    ) -> Answer:
        if path == "/authorize" and method == "GET":
            app = self.apps.get(query.get("client_id", ""))
            if app is None or query.get("response_type") != "code":
                return Answer(400, {"error": "invalid_request"})
            if len(query.get("state", "")) > 1024:
                return Answer(400, {"error": "invalid_request"})
            return Answer(
                200,
                f"<h1>Разрешить доступ приложению {app.client_id}?</h1>",
                content_type="text/html",
            )
        if method != "POST" or path not in ("/token", "/revoke_token"):
            return Answer(404, {"error": "not_found"})
        if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return Answer(400, {"error": "invalid_request"})
        form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        app = self._oauth_client(headers.get("authorization", ""), form)
        if app is None:
            return Answer(401, {"error": "invalid_client"})
        if path == "/revoke_token":
            token = self.tokens.get(form.get("token", ""))
            if token is not None and token.client_id == app.client_id:
                token.revoked = True
            return Answer(200, {})
        if form.get("grant_type") != "authorization_code":
            return Answer(400, {"error": "unsupported_grant_type"})
        entry = self.codes.pop(form.get("code", ""), None)
        if entry is None or entry[0] != app.client_id or self.now() - entry[2] > CODE_TTL:
            return Answer(
                400, {"error": "invalid_grant", "error_description": "Code is invalid or expired"}
            )
        token = self.issue_token(entry[1], app.client_id)
        return Answer(200, {"access_token": token, "expires_in": "157680000"})

    def _oauth_client(self, header: str, form: Mapping[str, str]) -> FakeApp | None:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        scheme, _, value = header.partition(" ")
        if scheme == "Basic":  # the header wins over the body (§7.3)
            try:
                client_id, _, secret = base64.b64decode(value).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
        app = self.apps.get(client_id)
        return app if app is not None and secret == app.client_secret else None

    # fake-only pages ------------------------------------------------------------------------

    def _fake_route(self, method: str, path: str, query: Mapping[str, str]) -> Answer:
        parts = [part for part in path[len(FAKE_PREFIX) :].split("/") if part]
        if len(parts) == 2 and parts[0] == "checkout" and parts[1] in self.payments:
            payment = self.payments[parts[1]]
            action = query.get("action")
            # Notifications go out once the lock is released (``handle``).
            if action == "pay" and payment["status"] == "pending":
                self._pay(payment["id"], "bank_card")
            elif action == "decline" and payment["status"] == "pending":
                reason = query.get("reason", "insufficient_funds")
                if reason not in CANCEL_REASONS:
                    return Answer(400, "unknown reason", content_type="text/plain")
                self._cancel(payment["id"], "payment_network", reason)
            elif action:
                return Answer(409, f"payment is {payment['status']}", content_type="text/plain")
            if action:
                return_url = self.payments[parts[1]].get("_return_url") or ""
                return Answer(
                    200, f"done {payment['status']} {return_url}", content_type="text/plain"
                )
            return Answer(
                200,
                f"<h1>Оплата {payment['amount']['value']} ₽</h1><p>{payment.get('description', '')}</p>",
                content_type="text/html",
            )
        if parts == ["oauth", "consent"]:
            try:
                location = self.consent(
                    query["client_id"],
                    query["shop_id"],
                    query.get("state", ""),
                    allow=query.get("decision", "allow") == "allow",
                )
            except KeyError:
                return Answer(400, "bad consent request", content_type="text/plain")
            return Answer(302, "", headers=(("Location", location),), content_type="text/plain")
        return Answer(404, "not found", content_type="text/plain")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeYooKassa

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        answer = self.server.fake.handle(
            self.command,
            split.path,
            dict(parse_qsl(split.query, keep_blank_values=True)),
            {k.lower(): v for k, v in self.headers.items()},
            body,
        )
        data = answer.content()
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in answer.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = _dispatch
    do_POST = _dispatch
    do_DELETE = _dispatch
    do_PUT = _dispatch
    do_PATCH = _dispatch
