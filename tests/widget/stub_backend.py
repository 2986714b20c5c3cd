"""A stand-in for the platform's Widget API (CONTRACT.md «Widget API»), standard library only.

It answers the contract's shapes, checks amoCRM's disposable token the way the real backend must
(HS256 over the client secret, audience = our origin, expiry, single-use `jti`), answers the CORS
preflight for `X-Auth-Token`, and records every request so tests can assert on what the widget sent.

Scenarios are chosen by lead id (see `LEADS`), and an account id outside `bound_accounts` gets the
«account not bound» answer. `POST /api/widget/v1/claim-code` hands such an account its claim code
(`CLAIM_CODE`), or 409 when it is bound or its install is in `uninstalled_accounts`. The browser tests take it through the `widget_backend` fixture, which a
later conftest can override to point at the real Django server.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CLIENT_SECRET = "widget-test-client-secret"
CLIENT_UUID = "0b0123f4-5678-4abc-9def-0123456789ab"
BOUND_ACCOUNT = 31415926
UNBOUND_ACCOUNT = 27182818
CLAIM_CODE = "7K4-9QX"
# The claim code's expiry: 14:35 local time today, so the widget's «valid until» text is known.
CLAIM_EXPIRES_LOCAL = "14:35"
PAY = "http://chezaquest.localhost:8000/pay/"

PARTNER = {"id": "5b8f0c7e-2f7a-4d5e-9a51-1f0f2d7c9a01", "name": "ИП Иванов Иван Иванович"}
LOCATION = {
    "id": "9e1d7a52-0c1b-4b8e-8f0a-6a3f1d2c4b77",
    "name": "Квест «Тайная комната», ул. Баумана 1",
}


def _links(
    prepayment: str, full: str, pre_status: str = "active", full_status: str = "active"
) -> list[dict[str, str]]:
    return [
        {
            "kind": "prepayment",
            "url": PAY + "Xq7Lp2VbN9sKd4Tw",
            "amount": prepayment,
            "status": pre_status,
        },
        {"kind": "full", "url": PAY + "Mz3Rt8YcH5fGa1Ue", "amount": full, "status": full_status},
    ]


def _deal(
    lead_id: int, total: str, paid: str, remaining: str, status: str, links: list[dict[str, str]]
) -> dict[str, Any]:
    return {
        "lead_id": lead_id,
        "deal": {
            "total": total,
            "paid": paid,
            "remaining": remaining,
            "currency": "RUB",
            "status": status,
        },
        "location": dict(LOCATION),
        "partner": dict(PARTNER),
        "links": links,
    }


def _error(
    status: int, detail: str | None, code: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    body = {"code": code} if detail is None else {"detail": detail, "code": code}
    return {"error": status, "body": body, "headers": headers or {}}


# lead id -> what GET answers; "generated" is what POST answers (and GET afterwards).
LEADS: dict[int, dict[str, Any]] = {
    # a deal with both links, nothing paid
    7001: {"get": _deal(7001, "5000.00", "0.00", "5000.00", "open", _links("1500.00", "5000.00"))},
    # a deal whose links were never generated: POST makes them (slowly, to see the busy state)
    7002: {
        "get": _deal(7002, "12500.00", "0.00", "12500.00", "open", []),
        "generated": _deal(
            7002, "12500.00", "0.00", "12500.00", "open", _links("3750.00", "12500.00")
        ),
        "post_delay": 0.6,
    },
    # prepayment paid: the full link now asks for the rest
    7004: {
        "get": _deal(
            7004,
            "5000.00",
            "1500.00",
            "3500.00",
            "partially_paid",
            _links("1500.00", "3500.00", pre_status="paid"),
        )
    },
    # hostile data from the backend must stay text, and only http(s) links become clickable
    7007: {
        "get": _deal(7007, "5000.00", "0.00", "5000.00", "open", _links("1500.00", "5000.00"))
        | {
            "partner": {"id": "x", "name": '<img src=x onerror="window.fplPwned=1">ООО «Ромашка»'},
            "links": [
                {
                    "kind": "prepayment",
                    "url": "javascript:window.fplPwned=1",
                    "amount": "1500.00",
                    "status": "active",
                },
                _links("1500.00", "5000.00")[1],
            ],
        }
    },
    7003: {"all": _error(422, "В сделке не выбрана локация", "lead_without_location")},
    7401: {"all": _error(401, "Сессия amoCRM устарела. Обновите страницу.", "invalid_token")},
    7403: {"all": _error(403, None, "forbidden")},
    7404: {"all": _error(404, "Сделка не найдена в amoCRM", "lead_not_found")},
    7429: {"all": _error(429, None, "rate_limited", {"Retry-After": "30"})},
    7500: {
        "all": {
            "error": 500,
            "raw": b"<html><body>Internal Server Error</body></html>",
            "headers": {},
        }
    },
}

LINKS_PATH = re.compile(r"^/api/widget/v1/leads/(\d+)/(links|delivered)/?$")
DELIVERED_AT = "2026-12-12T16:05:00+00:00"
CLAIM_PATH = "/api/widget/v1/claim-code"


def _claim_expires_at() -> str:
    hour, minute = (int(p) for p in CLAIM_EXPIRES_LOCAL.split(":"))
    local = datetime.now().astimezone().replace(hour=hour, minute=minute, second=0, microsecond=0)
    return local.isoformat()


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_token(
    *,
    secret: str,
    audience: str,
    account_id: int,
    subdomain: str,
    user_id: int,
    client_uuid: str = CLIENT_UUID,
    lifetime: int = 1800,
) -> str:
    """A disposable token shaped like amoCRM's (spec §5): HS256 JWT, new `jti` every time."""
    now = int(time.time())
    claims = {
        "iss": f"https://{subdomain}.amocrm.ru",
        "aud": audience,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "account_id": account_id,
        "user_id": user_id,
        "subdomain": subdomain,
        "client_uuid": client_uuid,
    }
    head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64url(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64url(sig)}"


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    claims: dict[str, Any] | None


@dataclass
class StubBackend:
    origin_allowed: str  # the page origin that plays the amoCRM account's origin
    secret: str = CLIENT_SECRET
    bound_accounts: set[int] = field(default_factory=lambda: {BOUND_ACCOUNT})
    uninstalled_accounts: set[int] = field(default_factory=set)
    # Cleared by a test to hold claim-code answers until it sets it again (a slow network).
    claim_gate: threading.Event = field(default_factory=threading.Event)
    url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    leads: dict[int, dict[str, Any]] = field(default_factory=dict)
    _seen_jti: set[str] = field(default_factory=set)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.leads = copy.deepcopy(LEADS)
            self.uninstalled_accounts.clear()
            self.claim_gate.set()

    def calls(self, method: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method]

    # ---- token check (what the real backend does, CONTRACT «Widget API») ----

    def verify(self, token: str | None) -> tuple[dict[str, Any] | None, str]:
        if not token or token.count(".") != 2:
            return None, "no token"
        head, body, sig = token.split(".")
        expected = hmac.new(self.secret.encode(), f"{head}.{body}".encode(), hashlib.sha256)
        if not hmac.compare_digest(_b64url(expected.digest()), sig):
            return None, "bad signature"
        if json.loads(_b64url_decode(head)).get("alg") != "HS256":
            return None, "bad algorithm"
        claims = json.loads(_b64url_decode(body))
        now = time.time()
        if claims.get("aud") != self.url:
            return None, "wrong audience"
        if not (claims.get("nbf", 0) - 30 <= now < claims.get("exp", 0) + 30):
            return None, "expired"
        with self._lock:
            if claims.get("jti") in self._seen_jti:
                return None, "replayed"
            self._seen_jti.add(claims["jti"])
        return claims, ""

    # ---- server ----

    def start(self) -> StubBackend:
        self.reset()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def _cors(self) -> None:
                origin = self.headers.get("Origin")
                if origin == backend.origin_allowed:
                    self.send_header("Access-Control-Allow-Origin", origin)
                    self.send_header("Access-Control-Expose-Headers", "Retry-After")
                self.send_header("Vary", "Origin")

            def _send(
                self,
                status: int,
                body: bytes,
                content_type: str,
                headers: dict[str, str] | None = None,
            ) -> None:
                self.send_response(status)
                self._cors()
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _json(
                self, status: int, payload: Any, headers: dict[str, str] | None = None
            ) -> None:
                self._send(
                    status,
                    json.dumps(payload, ensure_ascii=False).encode(),
                    "application/json; charset=utf-8",
                    headers,
                )

            def do_OPTIONS(self) -> None:  # preflight: no auth, CORS only
                self.send_response(204)
                self._cors()
                self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
                self.send_header("Access-Control-Allow-Headers", "X-Auth-Token, Content-Type")
                self.send_header("Access-Control-Max-Age", "600")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                self._links("GET")

            def do_POST(self) -> None:
                if self.path.split("?")[0] == CLAIM_PATH:
                    self._claim_code()
                    return
                self._links("POST")

            def _claim_code(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                claims, problem = backend.verify(self.headers.get("X-Auth-Token"))
                backend.requests.append(
                    RecordedRequest("POST", self.path, dict(self.headers), body, claims)
                )
                if claims is None:
                    self._json(
                        401,
                        {"detail": f"Недействительный токен ({problem})", "code": "invalid_token"},
                    )
                    return
                backend.claim_gate.wait(30)
                account_id = claims.get("account_id")
                if account_id in backend.bound_accounts:
                    self._json(
                        409,
                        {
                            "detail": "Аккаунт уже подключён к сети.",
                            "code": "account_already_bound",
                        },
                    )
                    return
                if account_id in backend.uninstalled_accounts:
                    self._json(
                        409,
                        {
                            "detail": "Установка виджета ещё не завершилась. Подождите минуту.",
                            "code": "install_not_finished",
                        },
                    )
                    return
                self._json(
                    200,
                    {
                        "code": CLAIM_CODE,
                        "expires_at": _claim_expires_at(),
                        "account_id": account_id,
                    },
                )

            def _links(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                claims, problem = backend.verify(self.headers.get("X-Auth-Token"))
                backend.requests.append(
                    RecordedRequest(method, self.path, dict(self.headers), body, claims)
                )
                match = LINKS_PATH.match(self.path.split("?")[0])
                if not match:
                    self._json(404, {"detail": "Не найдено", "code": "not_found"})
                    return
                if claims is None:
                    self._json(
                        401,
                        {
                            "detail": f"Недействительный токен amoCRM ({problem})",
                            "code": "invalid_token",
                        },
                    )
                    return
                if claims.get("account_id") not in backend.bound_accounts:
                    self._json(
                        401,
                        {
                            "detail": "Аккаунт amoCRM не подключён к сети",
                            "code": "account_not_bound",
                        },
                    )
                    return
                lead_id = int(match.group(1))
                lead = backend.leads.get(lead_id)
                if lead is None:
                    self._json(
                        404, {"detail": "Сделка не найдена в amoCRM", "code": "lead_not_found"}
                    )
                    return
                answer = lead.get("all")
                if answer is not None:
                    if "raw" in answer:
                        self._send(answer["error"], answer["raw"], "text/html", answer["headers"])
                    else:
                        self._json(answer["error"], answer["body"], answer["headers"])
                    return
                if method == "POST" and match.group(2) == "delivered":
                    # «Услуга оказана»: the deal is delivered and its advance is being settled.
                    deal = lead["get"]["deal"]
                    receipts = [
                        {
                            "kind": "settlement",
                            "amount": deal["paid"],
                            "status": "registered",
                            "payment_invoice_id": 1000000001,
                        },
                        {
                            "kind": "settlement",
                            "amount": "0.01",
                            "status": "failed",
                            "payment_invoice_id": 1000000002,
                        },
                    ]
                    lead["get"] = lead["get"] | {
                        "deal": deal | {"delivered_at": DELIVERED_AT, "receipts": receipts}
                    }
                    self._json(200, lead["get"])
                    return
                if method == "POST":
                    time.sleep(lead.get("post_delay", 0))
                    if "generated" in lead:
                        lead["get"] = lead.pop("generated")
                self._json(200, lead["get"])

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
