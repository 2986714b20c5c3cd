"""A strict fake of Bitrix24 cloud (portals + the OAuth server) over real HTTP on 127.0.0.1
(shared/specs/bitrix24.md).

    with FakeBitrix24() as b24:
        member_id = b24.add_portal(domain="acme.bitrix24.com")
        post = b24.install_callback(member_id)      # the ONAPPINSTALL form the portal posts
        ...  # the OAuth server at b24.base_url/oauth/token/, portals at b24.base_url/<domain>/rest/

One server plays every portal: portal ``acme.bitrix24.com`` is served under
``/acme.bitrix24.com/rest/<method>`` and knows only its own tokens. What it enforces like the real service: the token endpoint (GET, optionally form
POST) with single-use codes (30 s) and **rotating** refresh tokens (a used refresh token and its
access token die; reuse → ``400 invalid_grant``), ``401 expired_token`` after 3600 s, ``auth`` in
the body/query, answers ``{"result", "time"}`` (+ ``total``/``next`` on lists, 50 per page),
errors ``{"error", "error_description"}`` with ``error`` empty for ``crm.deal.*``, the leaky
bucket per (portal, client IP) → ``503 QUERY_LIMIT_EXCEEDED``, the per-method time budget →
``429 OPERATION_TIME_LIMIT``, unknown deal fields silently ignored by updates, ``STAGE_ID``
only within the deal's pipeline on ``crm.deal.update``, user-field codes ``UF_CRM_*`` (≤ 20
characters, A-Z0-9_), enumeration values as option ids, money as ``"amount|CUR"``, lowercase
``fields`` on timeline comments, "Handler already binded" on a second ``event.bind``, events
posted as bracket forms carrying the portal's ``application_token``, one offline record per
deal, kept by ``event.offline.get`` with ``clear=0`` under a ``process_id`` (the same id gets the
same records again; parallel gets with other ids get disjoint sets; a reservation lasts 30 days)
until ``event.offline.clear`` of exactly those ids (or all of the process's), ``event.offline.error``
marking records the next gets skip unless ``error=1``, ``event.offline.list`` reading unchanged.

Knobs: ``fail_next``, ``set_operating``, ``expire_access_tokens``, ``uninstall``,
``add_deal``, ``edit_deal_by_hand``, ``add_comment_by_hand``, ``add_category``, ``add_userfield``, ``delete_userfield``,
``rest_plan_denied``. Observations: ``calls``, ``max_level_seen``, ``token_grants``, ``deal``,
``comments``, ``userfields``, ``bindings``, ``offline_queue``, ``event_posts``.
Frames and posts: ``install_callback``, ``installer_frame``, ``placement_frame``,
``event_form``, ``fire_event``, ``uninstall_form``.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from tests.fakes._served import FakeHandler, ServedFake

DEFAULT_CLIENT_ID = "app.573ad8a0346747.09223434"
DEFAULT_CLIENT_SECRET = "LJSl0lNB76B5YY6u0YVQ3AW0DrVADcRTwVr4y99PXU1BWQybWK"
APP_CODE = "vendor.franchisepay"
CODE_TTL = 30
FIELD_NAME_RE = re.compile(r"^UF_CRM_[A-Z0-9_]+$")
MONEY_RE = re.compile(r"^\d{1,15}(?:\.\d{1,2})?\|[A-Z]{3}$")
USER_TYPES = {
    "string", "integer", "double", "boolean", "datetime", "date", "money", "url", "address",
    "enumeration", "file", "employee", "crm_status", "iblock_section", "iblock_element", "crm",
}  # fmt: skip
KNOWN_EVENTS = {
    "ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALDELETE", "ONCRMDEALMOVETOCATEGORY",
    "ONAPPINSTALL", "ONAPPUNINSTALL", "ONOFFLINEEVENT",
}  # fmt: skip
PAGE = 50


class B24Error(Exception):
    def __init__(self, status: int, error: str, description: str = "", **extra: Any) -> None:
        super().__init__(error or description)
        self.status = status
        self.body = {"error": error, "error_description": description, **extra}


def not_found() -> B24Error:
    return B24Error(400, "", "Not found")


@dataclass
class LoggedCall:
    at: float
    member_id: str | None
    method: str
    status: int
    error: str = ""


@dataclass
class Stage:
    status_id: str
    name: str
    sort: int
    semantics: str | None = None  # "S" won, "F" lost, None in progress


@dataclass
class Portal:
    member_id: str
    domain: str
    application_token: str
    rng: random.Random
    installed: bool = True
    status: str = "P"
    admins: set[int] = field(default_factory=lambda: {1})
    license_family: str = "pro"
    deals: dict[int, dict[str, Any]] = field(default_factory=dict)
    categories: dict[int, tuple[str, int, list[Stage]]] = field(default_factory=dict)
    userfields: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    bindings: list[dict[str, Any]] = field(default_factory=list)
    placements: list[dict[str, Any]] = field(default_factory=list)
    offline: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    # §6.5 safe mode: record ID → (process_id, reserved at); record IDs marked by
    # event.offline.error. Kept beside the records: the API never shows them.
    offline_reserved: dict[str, tuple[str, float]] = field(default_factory=dict)
    offline_errors: set[str] = field(default_factory=set)
    # §3.6: the leaky bucket per client IP: (level, when it was last drained).
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    operating: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    next_ids: dict[str, Any] = field(default_factory=dict)


@dataclass
class Failure:
    status: int
    error: str
    description: str
    method: str | None
    remaining: int


class FakeBitrix24(ServedFake):
    thread_name = "fake-bitrix24"

    def __init__(
        self,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        drain_per_second: float = 2.0,
        burst: int = 50,
        operating_limit: float = 480.0,
        method_cost: float = 0.0,
        access_ttl: int = 3600,
        max_field_name: int = 20,
        seed: int | None = None,
        port: int = 0,
    ) -> None:
        super().__init__(seed=seed, port=port)
        self.client_id = client_id
        self.client_secret = client_secret
        self.drain_per_second = drain_per_second
        self.burst = burst
        self.operating_limit = operating_limit
        self.method_cost = method_cost
        self.access_ttl = access_ttl
        self.max_field_name = max_field_name
        # The docs do not say whether crm.item.* answers list empty user fields; tests can try both.
        self.omit_empty_uf_in_items = False
        # §6.5: a process's hold on offline records lapses after 30 days.
        self.offline_reservation_ttl = 30 * 86400.0
        self.portals: dict[str, Portal] = {}
        # token → (member_id, user_id, expires_at, alive)
        self.access_tokens: dict[str, tuple[str, int, float, bool]] = {}
        # refresh token → (member_id, user_id, sibling access token, used)
        self.refresh_tokens: dict[str, tuple[str, int, str, bool]] = {}
        self.codes: dict[str, tuple[str, int, float, bool]] = {}
        self.token_grants: list[tuple[str, str | None, int]] = []
        self.calls: list[LoggedCall] = []
        self.failures: list[Failure] = []
        self.event_posts: list[tuple[str, int]] = []
        self.max_level_seen = 0.0

    # -- portals ------------------------------------------------------------------------------

    def add_portal(self, *, domain: str = "acme.bitrix24.com", member_id: str | None = None) -> str:
        with self.lock:
            member_id = member_id or secrets.token_hex(16)
            rng = random.Random(member_id)
            portal = Portal(
                member_id=member_id,
                domain=domain,
                application_token=secrets.token_hex(16),
                rng=rng,
                next_ids={
                    "deal": itertools.count(rng.randint(1000, 9000), 2),
                    "field": itertools.count(rng.randint(100, 9000)),
                    "option": itertools.count(rng.randint(10, 900)),
                    "comment": itertools.count(rng.randint(100, 90_000)),
                    "category": itertools.count(rng.randint(1, 9)),
                    "status": itertools.count(rng.randint(10, 900)),
                },
            )
            portal.categories[0] = (
                "General",
                100,
                [
                    Stage("NEW", "New", 10),
                    Stage("PREPARATION", "Preparing documents", 20),
                    Stage("PREPAYMENT_INVOIC", "Prepayment invoice", 30),
                    Stage("EXECUTING", "In progress", 40),
                    Stage("WON", "Deal won", 60, "S"),
                    Stage("LOSE", "Deal lost", 70, "F"),
                ],
            )
            self.portals[member_id] = portal
            # A field the portal already has, so nothing can assume "ours come first".
            self.add_userfield(member_id, "UF_CRM_SOURCE_NOTE", "string")
            return member_id

    def portal(self, member_id: str) -> Portal:
        return self.portals[member_id]

    def application_token(self, member_id: str) -> str:
        return self.portals[member_id].application_token

    def add_category(self, member_id: str, name: str, stages: list[str], sort: int = 200) -> int:
        """A pipeline with ``C<id>:<CODE>`` stages plus ``C<id>:WON`` / ``C<id>:LOSE``."""
        with self.lock:
            portal = self.portals[member_id]
            category_id = next(portal.next_ids["category"])
            items = [
                Stage(
                    f"C{category_id}:{re.sub(r'[^A-Z0-9]', '_', s.upper())[:16]}", s, 10 * (i + 1)
                )
                for i, s in enumerate(stages)
            ]
            items += [
                Stage(f"C{category_id}:WON", "Won", 1000, "S"),
                Stage(f"C{category_id}:LOSE", "Lost", 1010, "F"),
            ]
            portal.categories[category_id] = (name, sort, items)
            return category_id

    def stages(self, member_id: str, category_id: int) -> list[str]:
        with self.lock:
            return [s.status_id for s in self.portals[member_id].categories[category_id][2]]

    def add_deal(
        self,
        member_id: str,
        *,
        title: str = "Order",
        opportunity: str = "0.00",
        category_id: int = 0,
        stage_id: str | None = None,
        currency: str = "RUB",
        **uf: Any,
    ) -> int:
        with self.lock:
            portal = self.portals[member_id]
            deal_id = next(portal.next_ids["deal"])
            stages = portal.categories[category_id][2]
            now = _iso(time.time())
            portal.deals[deal_id] = {
                "ID": str(deal_id),
                "TITLE": title,
                "TYPE_ID": "SALE",
                "CATEGORY_ID": str(category_id),
                "STAGE_ID": stage_id or stages[0].status_id,
                "CURRENCY_ID": currency,
                "OPPORTUNITY": f"{Decimal(opportunity):.2f}",
                "IS_MANUAL_OPPORTUNITY": "Y",
                "ASSIGNED_BY_ID": "1",
                "CLOSED": "N",
                "DATE_CREATE": now,
                "DATE_MODIFY": now,
                "_uf": dict(uf),
            }
            self._offline_record(portal, "ONCRMDEALADD", deal_id)
            return deal_id

    def deal(self, member_id: str, deal_id: int) -> dict[str, Any]:
        with self.lock:
            portal = self.portals[member_id]
            return self._render_deal(portal, portal.deals[deal_id])

    def edit_deal_by_hand(self, member_id: str, deal_id: int, **changes: Any) -> None:
        """A manager edits the deal in the portal: the offline queue records it (no post)."""
        with self.lock:
            portal = self.portals[member_id]
            deal = portal.deals[deal_id]
            for key, value in changes.items():
                if key.startswith("UF_"):
                    deal["_uf"][key] = value
                else:
                    deal[key] = value
            deal["DATE_MODIFY"] = _iso(time.time())
            self._offline_record(portal, "ONCRMDEALUPDATE", deal_id)

    def delete_deal(self, member_id: str, deal_id: int) -> None:
        with self.lock:
            portal = self.portals[member_id]
            del portal.deals[deal_id]
            self._offline_record(portal, "ONCRMDEALDELETE", deal_id)

    def comments(self, member_id: str, deal_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self.portals[member_id].comments.get(deal_id, []))

    def add_comment_by_hand(self, member_id: str, deal_id: int, text: str) -> int:
        with self.lock:
            portal = self.portals[member_id]
            comment_id = next(portal.next_ids["comment"])
            portal.comments.setdefault(deal_id, []).append(
                {"ID": str(comment_id), "ENTITY_ID": str(deal_id), "ENTITY_TYPE": "deal",
                 "CREATED": _iso(time.time()), "COMMENT": text, "AUTHOR_ID": "1"}
            )  # fmt: skip
            return comment_id

    def userfields(self, member_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(f) for f in self.portals[member_id].userfields.values()]

    def userfield(self, member_id: str, code: str) -> dict[str, Any]:
        return next(f for f in self.userfields(member_id) if f["FIELD_NAME"] == code)

    def add_userfield(
        self,
        member_id: str,
        code: str,
        user_type: str,
        *,
        options: list[tuple[str, str | None]] | None = None,
    ) -> int:
        with self.lock:
            portal = self.portals[member_id]
            body: dict[str, Any] = {"FIELD_NAME": code, "USER_TYPE_ID": user_type}
            if options is not None:
                body["LIST"] = [{"VALUE": v, "XML_ID": x} for v, x in options]
            return self._create_userfield(portal, body)

    def delete_userfield(self, member_id: str, code: str) -> None:
        with self.lock:
            portal = self.portals[member_id]
            for field_id, f in list(portal.userfields.items()):
                if f["FIELD_NAME"] == code:
                    del portal.userfields[field_id]

    def bindings(self, member_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self.portals[member_id].bindings)

    def offline_queue(self, member_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(list(self.portals[member_id].offline.values()))

    def offline_reservations(self, member_id: str) -> dict[str, str]:
        """Record ID → the process id holding it (safe mode, §6.5)."""
        with self.lock:
            portal = self.portals[member_id]
            return {rid: pid for rid, (pid, _at) in portal.offline_reserved.items()}

    def uninstall(self, member_id: str) -> None:
        """The admin deletes the app: handlers and placements go, tokens stop working."""
        with self.lock:
            portal = self.portals[member_id]
            portal.installed = False
            portal.bindings.clear()
            portal.placements.clear()
            for token, (owner, user, expires, _alive) in list(self.access_tokens.items()):
                if owner == member_id:
                    self.access_tokens[token] = (owner, user, expires, False)

    def rest_plan_denied(self, member_id: str) -> None:
        """The portal's plan has no REST any more (403 ACCESS_DENIED on every call)."""
        with self.lock:
            self.portals[member_id].license_family = "free"

    # -- tokens -------------------------------------------------------------------------------

    def _issue_pair(self, member_id: str, user_id: int) -> dict[str, Any]:
        access = secrets.token_hex(16)
        refresh = secrets.token_hex(16)
        expires = time.time() + self.access_ttl
        self.access_tokens[access] = (member_id, user_id, expires, True)
        self.refresh_tokens[refresh] = (member_id, user_id, access, False)
        portal = self.portals[member_id]
        return {
            "access_token": access,
            "expires": int(expires),
            "expires_in": self.access_ttl,
            "scope": "crm,placement,user_brief",
            "domain": "oauth.bitrix.info",
            "server_endpoint": "https://oauth.bitrix.info/rest/",
            "status": portal.status,
            "client_endpoint": f"https://{portal.domain}/rest/",
            "member_id": member_id,
            "user_id": user_id,
            "refresh_token": refresh,
        }

    def issue_tokens(self, member_id: str, *, user_id: int = 1) -> dict[str, Any]:
        """A pair as the token endpoint would answer, without the dance."""
        with self.lock:
            return self._issue_pair(member_id, user_id)

    def authorize(self, member_id: str, *, user_id: int = 1) -> str:
        with self.lock:
            code = secrets.token_hex(16)
            self.codes[code] = (member_id, user_id, time.time(), False)
            return code

    def expire_access_tokens(self, member_id: str) -> None:
        with self.lock:
            for token, (owner, user, _expires, alive) in list(self.access_tokens.items()):
                if owner == member_id:
                    self.access_tokens[token] = (owner, user, 0.0, alive)

    def refresh_count(self, member_id: str | None = None) -> int:
        with self.lock:
            return sum(
                1
                for grant, owner, status in self.token_grants
                if grant == "refresh_token" and status == 200 and member_id in (None, owner)
            )

    # -- posts the portal makes ---------------------------------------------------------------

    def install_callback(self, member_id: str, *, user_id: int = 1) -> bytes:
        """§8a: the ONAPPINSTALL form, with a fresh pair of the installing user."""
        with self.lock:
            portal = self.portals[member_id]
            pair = self._issue_pair(member_id, user_id)
            fields = {
                "event": "ONAPPINSTALL",
                "data[VERSION]": "1",
                "data[ACTIVE]": "Y",
                "data[INSTALLED]": "Y",
                "data[LANGUAGE_ID]": "ru",
                "ts": str(int(time.time())),
                "auth[access_token]": pair["access_token"],
                "auth[expires_in]": "3600",
                "auth[scope]": "crm,placement,user_brief",
                "auth[domain]": portal.domain,
                "auth[server_endpoint]": "https://oauth.bitrix.info/rest/",
                "auth[status]": portal.status,
                "auth[client_endpoint]": f"https://{portal.domain}/rest/",
                "auth[member_id]": member_id,
                "auth[refresh_token]": pair["refresh_token"],
                "auth[application_token]": portal.application_token,
            }
            return urlencode(fields).encode()

    def _frame(
        self, member_id: str, user_id: int, placement: str, options: Mapping[str, Any] | str
    ) -> tuple[dict[str, str], bytes]:
        portal = self.portals[member_id]
        pair = self._issue_pair(member_id, user_id)
        query = {
            "DOMAIN": portal.domain,
            "PROTOCOL": "1",
            "LANG": "ru",
            "APP_SID": secrets.token_hex(16),
        }
        body = {
            "AUTH_ID": pair["access_token"],
            "AUTH_EXPIRES": "3600",
            "REFRESH_ID": pair["refresh_token"],
            "SERVER_ENDPOINT": "https://oauth.bitrix.info/rest/",
            "APPLICATION_TOKEN": portal.application_token,
            "APPLICATION_SCOPE": "crm,placement",
            "member_id": member_id,
            "status": portal.status,
            "PLACEMENT": placement,
            "PLACEMENT_OPTIONS": options if isinstance(options, str) else json.dumps(options),
        }
        return query, urlencode(body).encode()

    def installer_frame(self, member_id: str, *, user_id: int = 1) -> tuple[dict[str, str], bytes]:
        with self.lock:
            return self._frame(member_id, user_id, "DEFAULT", {})

    def placement_frame(
        self,
        member_id: str,
        deal_id: int,
        *,
        user_id: int = 1,
        placement: str = "CRM_DEAL_DETAIL_TAB",
    ) -> tuple[dict[str, str], bytes]:
        """§1.3/§5.3: the deal tab's frame POST (query, form body) with this user's tokens."""
        with self.lock:
            options = {"ID": str(deal_id), "URI": f"/crm/deal/details/{deal_id}/?IFRAME=Y"}
            return self._frame(member_id, user_id, placement, options)

    def event_form(
        self,
        member_id: str,
        event: str,
        deal_id: int,
        *,
        application_token: str | None = None,
        user_id: int | None = 1,
        handler_id: str = "201",
    ) -> bytes:
        """§8f: an event's form body (tokens absent when ``user_id`` is None: a robot acted)."""
        with self.lock:
            portal = self.portals[member_id]
            fields = {
                "event": event.upper(),
                "event_handler_id": handler_id,
                "data[FIELDS][ID]": str(deal_id),
                "ts": str(int(time.time())),
            }
            if user_id is not None:
                pair = self._issue_pair(member_id, user_id)
                fields |= {
                    "auth[access_token]": pair["access_token"],
                    "auth[expires]": str(pair["expires"]),
                    "auth[expires_in]": "3600",
                    "auth[user_id]": str(user_id),
                }
            fields |= {
                "auth[scope]": "crm,placement,user_brief",
                "auth[domain]": portal.domain,
                "auth[server_endpoint]": "https://oauth.bitrix.info/rest/",
                "auth[status]": portal.status,
                "auth[client_endpoint]": f"https://{portal.domain}/rest/",
                "auth[member_id]": member_id,
                "auth[application_token]": application_token or portal.application_token,
            }
            return urlencode(fields).encode()

    def uninstall_form(self, member_id: str, *, clean: bool = True) -> bytes:
        with self.lock:
            portal = self.portals[member_id]
            return urlencode(
                {
                    "event": "ONAPPUNINSTALL",
                    "data[LANGUAGE_ID]": "ru",
                    "data[CLEAN]": "1" if clean else "0",
                    "ts": str(int(time.time())),
                    "auth[domain]": portal.domain,
                    "auth[server_endpoint]": "https://oauth.bitrix.info/rest/",
                    "auth[client_endpoint]": f"https://{portal.domain}/rest/",
                    "auth[member_id]": member_id,
                    "auth[application_token]": portal.application_token,
                }
            ).encode()

    def fire_event(self, member_id: str, event: str, deal_id: int) -> list[int]:
        """POST the event to every online handler bound for it (no retries, §6.4)."""
        with self.lock:
            handlers = [
                b["handler"]
                for b in self.portals[member_id].bindings
                if b["event"] == event.upper() and not b["offline"]
            ]
            body = self.event_form(member_id, event, deal_id)
        statuses = []
        for handler in handlers:
            try:
                response = httpx.post(
                    handler,
                    content=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                    timeout=5,
                )
                statuses.append(response.status_code)
            except httpx.HTTPError:
                statuses.append(0)  # logged by the queue server, never re-sent
            self.event_posts.append((handler, statuses[-1]))
        return statuses

    # -- knobs --------------------------------------------------------------------------------

    def fail_next(
        self,
        n: int,
        status: int,
        error: str = "INTERNAL_SERVER_ERROR",
        description: str = "Internal server error",
        *,
        method: str | None = None,
    ) -> None:
        with self.lock:
            self.failures.append(Failure(status, error, description, method, n))

    def set_operating(self, member_id: str, method: str, seconds: float) -> None:
        """Pretend ``method`` already ran for ``seconds`` in the current window."""
        with self.lock:
            self.portals[member_id].operating[method] = [(time.time(), seconds)]

    def calls_of(self, member_id: str | None = None, method: str | None = None) -> list[LoggedCall]:
        with self.lock:
            return [
                c
                for c in self.calls
                if member_id in (None, c.member_id) and method in (None, c.method)
            ]

    # -- HTTP ---------------------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes, client_ip: str
    ) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if path.rstrip("/") == "/oauth/token":
            form = dict(parse_qsl(body.decode("utf-8", "replace"))) if method == "POST" else {}
            return self._token_endpoint({**query, **form})
        # Every portal is served under /<its domain>/rest/ (the connector's api_base_url).
        host, _, rest_path = path.lstrip("/").partition("/")
        if not rest_path.startswith("rest/"):
            return 404, {"error": "NOT_FOUND", "error_description": "Not found"}
        rest_method = rest_path[len("rest/") :].removesuffix(".json").lower()
        member_id: str | None = None
        at = time.time()
        try:
            params = self._params(headers, body, query)
            with self.lock:
                token = params.pop("auth", None)
                owner = self.access_tokens.get(token) if isinstance(token, str) else None
                member_id = owner[0] if owner else None
                portal, user_id = self._authenticate(token, host)
                member_id = portal.member_id
                self._gatekeep(portal, rest_method, client_ip, at)
                result, extra = self._route(portal, user_id, rest_method, params)
                answer = {"result": result, **extra, "time": self._time(portal, rest_method, at)}
                self.calls.append(LoggedCall(at, member_id, rest_method, 200))
            return 200, answer
        except B24Error as error:
            with self.lock:
                self.calls.append(
                    LoggedCall(at, member_id, rest_method, error.status, error.body["error"])
                )
            return error.status, error.body

    @staticmethod
    def _params(headers: Mapping[str, str], body: bytes, query: dict[str, str]) -> dict[str, Any]:
        content_type = headers.get("content-type", "")
        params: dict[str, Any] = dict(query)
        if body and "json" in content_type:
            try:
                data = json.loads(body, parse_float=Decimal)
            except ValueError:
                raise B24Error(400, "INVALID_REQUEST", "Invalid JSON") from None
            if not isinstance(data, dict):
                raise B24Error(400, "INVALID_REQUEST", "Invalid request")
            params.update(data)
        elif body:
            params.update(_unbracket(parse_qsl(body.decode("utf-8", "replace"))))
        return params

    def _authenticate(self, token: Any, host: str) -> tuple[Portal, int]:
        entry = self.access_tokens.get(token) if isinstance(token, str) else None
        if entry is None or self.portals[entry[0]].domain != host:
            # A portal knows only its own tokens.
            raise B24Error(401, "NO_AUTH_FOUND", "Wrong authorization data")
        member_id, user_id, expires, alive = entry
        if not alive:
            raise B24Error(401, "invalid_token", "The access token provided is invalid")
        if expires < time.time():
            raise B24Error(401, "expired_token", "The access token provided has expired")
        portal = self.portals[member_id]
        if not portal.installed:
            raise B24Error(401, "invalid_token", "The access token provided is invalid")
        return portal, user_id

    def _gatekeep(self, portal: Portal, method: str, client_ip: str, at: float) -> None:
        # §3.6: each request adds 1, the level drains at Y/s, above X the request is refused.
        level, since = portal.buckets.get(client_ip, (0.0, at))
        level = max(0.0, level - (at - since) * self.drain_per_second)
        if level + 1 > self.burst:
            portal.buckets[client_ip] = (level, at)
            raise B24Error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
        portal.buckets[client_ip] = (level + 1, at)
        self.max_level_seen = max(self.max_level_seen, level + 1)
        for failure in list(self.failures):
            if failure.method is None or failure.method == method:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self.failures.remove(failure)
                raise B24Error(failure.status, failure.error, failure.description)
        if portal.license_family == "free":
            raise B24Error(403, "ACCESS_DENIED", "REST API is available only on commercial plans")
        window = [(t, c) for t, c in portal.operating.get(method, []) if at - t < 600]
        portal.operating[method] = window
        if sum(c for _, c in window) >= self.operating_limit:
            raise B24Error(
                429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit."
            )

    def _time(self, portal: Portal, method: str, at: float) -> dict[str, Any]:
        window = portal.operating.setdefault(method, [])
        if self.method_cost:
            window.append((at, self.method_cost))
        first = min((t for t, _ in window), default=at)
        finish = time.time()
        return {
            "start": at,
            "finish": finish,
            "duration": finish - at,
            "processing": finish - at,
            "date_start": _iso(at),
            "date_finish": _iso(finish),
            "operating_reset_at": int(first + 600),
            "operating": round(sum(c for _, c in window), 3),
        }

    # -- OAuth server -------------------------------------------------------------------------

    def _token_endpoint(self, params: Mapping[str, str]) -> tuple[int, Any]:
        grant = params.get("grant_type", "")
        with self.lock:
            try:
                if (
                    params.get("client_id") != self.client_id
                    or params.get("client_secret") != self.client_secret
                ):
                    raise B24Error(401, "invalid_client", "Invalid client credentials")
                if grant == "authorization_code":
                    entry = self.codes.get(params.get("code", ""))
                    if entry is None or entry[3] or time.time() - entry[2] > CODE_TTL:
                        raise B24Error(400, "invalid_grant", "Invalid authorization code")
                    member_id, user_id = entry[0], entry[1]
                    self.codes[params["code"]] = (member_id, user_id, entry[2], True)
                elif grant == "refresh_token":
                    entry2 = self.refresh_tokens.get(params.get("refresh_token", ""))
                    if entry2 is None or entry2[3]:
                        raise B24Error(400, "invalid_grant", "Invalid refresh token")
                    member_id, user_id, sibling, _used = entry2
                    if not self.portals[member_id].installed:
                        raise B24Error(401, "invalid_client", "Application not installed")
                    self.refresh_tokens[params["refresh_token"]] = (
                        member_id,
                        user_id,
                        sibling,
                        True,
                    )
                    old = self.access_tokens.get(sibling)
                    if old is not None:  # §2.3: the sibling access token dies with it
                        self.access_tokens[sibling] = (old[0], old[1], old[2], False)
                else:
                    raise B24Error(400, "invalid_request", "Unsupported grant type")
            except B24Error as error:
                self.token_grants.append((grant, None, error.status))
                return error.status, error.body
            self.token_grants.append((grant, member_id, 200))
            return 200, self._issue_pair(member_id, user_id)

    # -- REST methods -------------------------------------------------------------------------

    def _route(
        self, portal: Portal, user_id: int, method: str, p: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        handler = _METHODS.get(method)
        if handler is None:
            raise B24Error(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        return handler(self, portal, user_id, p)

    def _app_info(
        self, portal: Portal, _user: int, _p: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        return {
            "ID": 5,
            "CODE": APP_CODE,
            "VERSION": 1,
            "STATUS": portal.status,
            "INSTALLED": portal.installed,
            "PAYMENT_EXPIRED": "N",
            "DAYS": None,
            "LANGUAGE_ID": "ru",
            "LICENSE": f"ru_{portal.license_family}",
            "LICENSE_TYPE": portal.license_family,
            "LICENSE_FAMILY": portal.license_family,
        }, {}

    def _user_admin(
        self, portal: Portal, user: int, _p: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        return user in portal.admins, {}

    def _user_current(
        self, _portal: Portal, user: int, _p: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        return {"ID": str(user), "NAME": f"User {user}", "ACTIVE": True}, {}

    # deals

    def _deal_of(self, portal: Portal, raw: Any) -> dict[str, Any]:
        deal_id = _positive(raw)
        if deal_id is None:
            raise B24Error(400, "", "ID is not defined or invalid.")
        deal = portal.deals.get(deal_id)
        if deal is None:
            raise not_found()
        return deal

    def _render_deal(self, portal: Portal, deal: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in deal.items() if not k.startswith("_")}
        for f in portal.userfields.values():
            value = deal["_uf"].get(f["FIELD_NAME"])
            out[f["FIELD_NAME"]] = value if value not in (None, "") else None
        return out

    def _deal_get(self, portal: Portal, _u: int, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return self._render_deal(portal, self._deal_of(portal, p.get("id", p.get("ID")))), {}

    def _set_uf(self, portal: Portal, deal: dict[str, Any], code: str, value: Any) -> None:
        f = next((x for x in portal.userfields.values() if x["FIELD_NAME"] == code), None)
        if f is None:
            return  # §4.2: unknown fields are silently ignored
        if value in ("", None, []):
            deal["_uf"].pop(code, None)
            return
        kind = f["USER_TYPE_ID"]
        text = str(value)
        if kind == "enumeration":
            if text not in {o["ID"] for o in f["LIST"]}:
                raise B24Error(400, "", f"Invalid value for field {code}")
        elif kind == "money":
            if not MONEY_RE.fullmatch(text):
                raise B24Error(400, "", f"Invalid money value for field {code}")
        elif kind == "url" and not isinstance(value, str):
            raise B24Error(400, "", f"Invalid value for field {code}")
        deal["_uf"][code] = text

    def _deal_update(
        self, portal: Portal, _u: int, p: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        deal = self._deal_of(portal, p.get("id", p.get("ID")))
        fields = p.get("fields", p.get("FIELDS"))
        if not isinstance(fields, dict):
            raise B24Error(400, "", "Parameter 'fields' must be array.")
        category = int(deal["CATEGORY_ID"])
        for key, value in fields.items():
            if key.startswith("UF_"):
                self._set_uf(portal, deal, key, value)
            elif key == "STAGE_ID":
                if value in {s.status_id for s in portal.categories[category][2]}:
                    deal["STAGE_ID"] = value  # a foreign pipeline's stage changes nothing
            elif key == "OPPORTUNITY":
                deal["OPPORTUNITY"] = f"{_decimal(value):.2f}"
            elif key in ("TITLE", "CURRENCY_ID", "IS_MANUAL_OPPORTUNITY"):
                deal[key] = str(value)
        deal["DATE_MODIFY"] = _iso(time.time())
        self._offline_record(portal, "ONCRMDEALUPDATE", int(deal["ID"]))
        return True, {}

    def _item(self, portal: Portal, deal: dict[str, Any], original: bool) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": int(deal["ID"]),
            "title": deal["TITLE"],
            "categoryId": int(deal["CATEGORY_ID"]),
            "stageId": deal["STAGE_ID"],
            "opportunity": float(deal["OPPORTUNITY"]),
            "currencyId": deal["CURRENCY_ID"],
            "isManualOpportunity": deal["IS_MANUAL_OPPORTUNITY"],
            "assignedById": int(deal["ASSIGNED_BY_ID"]),
            "createdTime": deal["DATE_CREATE"],
            "updatedTime": deal["DATE_MODIFY"],
        }
        for f in portal.userfields.values():
            code = f["FIELD_NAME"]
            key = code if original else _camel_uf(code)
            value = deal["_uf"].get(code)
            if f["USER_TYPE_ID"] == "enumeration" and value is not None:
                value = int(value)
            if value is None and self.omit_empty_uf_in_items:
                continue
            item[key] = value
        return item

    def _item_entity(self, p: dict[str, Any]) -> None:
        if str(p.get("entityTypeId")) != "2":
            raise B24Error(400, "NOT_FOUND", "Smart process not found")

    def _item_get(self, portal: Portal, _u: int, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        self._item_entity(p)
        deal = portal.deals.get(_positive(p.get("id")) or 0)
        if deal is None:
            raise B24Error(400, "NOT_FOUND", "Element not found")
        return {"item": self._item(portal, deal, p.get("useOriginalUfNames") == "Y")}, {}

    def _item_update(
        self, portal: Portal, _u: int, p: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        self._item_entity(p)
        deal = portal.deals.get(_positive(p.get("id")) or 0)
        if deal is None:
            raise B24Error(400, "NOT_FOUND", "Element not found")
        fields = p.get("fields")
        if not isinstance(fields, dict):
            raise B24Error(400, "ERROR_ARGUMENT", "Parameter 'fields' must be array")
        original = p.get("useOriginalUfNames") == "Y"
        category = int(deal["CATEGORY_ID"])
        moved_category = False
        if "categoryId" in fields:
            wanted = _positive(fields["categoryId"]) if str(fields["categoryId"]) != "0" else 0
            if wanted is None or wanted not in portal.categories:
                raise B24Error(
                    400, "CRM_FIELD_ERROR_VALUE_NOT_VALID", "Wrong value for field categoryId"
                )
            moved_category = wanted != category
            category = wanted
        stage_ids = {s.status_id for s in portal.categories[category][2]}
        if "stageId" in fields and fields["stageId"] not in stage_ids:
            raise B24Error(400, "CRM_FIELD_ERROR_VALUE_NOT_VALID", "Wrong value for field stageId")
        if moved_category and "stageId" not in fields:
            fields = {**fields, "stageId": portal.categories[category][2][0].status_id}
        for key, value in fields.items():
            if key.upper().startswith("UF_") if original else key.startswith("ufCrm"):
                code = key if original else _uncamel_uf(portal, key)
                if code:
                    self._set_uf(portal, deal, code, value)
        if moved_category:
            deal["CATEGORY_ID"] = str(category)
        if "stageId" in fields:
            deal["STAGE_ID"] = fields["stageId"]
        if "opportunity" in fields:
            deal["OPPORTUNITY"] = f"{_decimal(fields['opportunity']):.2f}"
        deal["DATE_MODIFY"] = _iso(time.time())
        event = "ONCRMDEALMOVETOCATEGORY" if moved_category else "ONCRMDEALUPDATE"
        self._offline_record(portal, event, int(deal["ID"]))
        return {"item": self._item(portal, deal, original)}, {}

    def _item_list(self, portal: Portal, _u: int, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        self._item_entity(p)
        filt = p.get("filter") if isinstance(p.get("filter"), dict) else {}
        since = filt.get(">=updatedTime")
        deals = sorted(portal.deals.values(), key=lambda d: int(d["ID"]))
        if since:
            deals = [d for d in deals if d["DATE_MODIFY"] >= _iso_normal(str(since))]
        items = [self._item(portal, d, p.get("useOriginalUfNames") == "Y") for d in deals]
        page, extra = _page(items, p)
        return {"items": page}, extra

    # user fields

    def _create_userfield(self, portal: Portal, body: dict[str, Any]) -> int:
        name = str(body.get("FIELD_NAME") or "").upper()
        if not name:
            raise B24Error(400, "ERROR_CORE", "FIELD_NAME is required")
        if not name.startswith("UF_CRM_"):
            name = "UF_CRM_" + name.removeprefix("UF_")
        if not FIELD_NAME_RE.fullmatch(name):
            raise B24Error(400, "ERROR_CORE", "Invalid field name")
        if len(name) > self.max_field_name:
            raise B24Error(400, "ERROR_CORE", "Field name is too long.")
        if any(f["FIELD_NAME"] == name for f in portal.userfields.values()):
            raise B24Error(400, "ERROR_CORE", "Field already exists")
        kind = body.get("USER_TYPE_ID")
        if kind not in USER_TYPES:
            raise B24Error(400, "ERROR_CORE", "Invalid USER_TYPE_ID")
        field_id = next(portal.next_ids["field"])
        record: dict[str, Any] = {
            "ID": str(field_id),
            "ENTITY_ID": "CRM_DEAL",
            "FIELD_NAME": name,
            "USER_TYPE_ID": kind,
            "XML_ID": body.get("XML_ID"),
            "SORT": str(body.get("SORT", 100)),
            "MULTIPLE": str(body.get("MULTIPLE", "N")),
            "MANDATORY": str(body.get("MANDATORY", "N")),
            "SETTINGS": body.get("SETTINGS") if isinstance(body.get("SETTINGS"), dict) else {},
            "EDIT_FORM_LABEL": body.get("EDIT_FORM_LABEL", body.get("LABEL")),
        }
        if kind == "enumeration":
            record["LIST"] = []
            self._apply_list(portal, record, body.get("LIST") or [])
        portal.userfields[field_id] = record
        return field_id

    def _apply_list(self, portal: Portal, record: dict[str, Any], items: Any) -> None:
        if not isinstance(items, list):
            raise B24Error(400, "ERROR_CORE", "LIST must be an array")
        current = {o["ID"]: o for o in record["LIST"]}
        for item in items:
            if not isinstance(item, dict):
                raise B24Error(400, "ERROR_CORE", "LIST item must be an object")
            option_id = str(item.get("ID") or "")
            if option_id:
                if option_id not in current:
                    raise B24Error(400, "ERROR_CORE", "Unknown LIST item")
                if item.get("DEL") == "Y":
                    del current[option_id]
                    continue
                option = current[option_id]
            else:
                if not str(item.get("VALUE") or "").strip():
                    continue  # §4.4: empty VALUE ignored
                option = {
                    "ID": str(next(portal.next_ids["option"])),
                    "SORT": "500",
                    "DEF": "N",
                    "XML_ID": None,
                }
                current[option["ID"]] = option
            for key in ("VALUE", "SORT", "DEF", "XML_ID"):
                if key in item:
                    option[key] = str(item[key]) if item[key] is not None else None
            if not option.get("XML_ID"):
                option["XML_ID"] = secrets.token_hex(6)  # Bitrix24 fills a random one
        xml_ids = [o["XML_ID"] for o in current.values()]
        if len(xml_ids) != len(set(xml_ids)):
            raise B24Error(400, "ERROR_CORE", "XML_ID must be unique")
        record["LIST"] = sorted(current.values(), key=lambda o: (int(o["SORT"]), int(o["ID"])))

    def _render_userfield(self, f: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(f)
        if "LIST" in out:
            out["LIST"] = [
                {
                    "ID": o["ID"],
                    "SORT": o["SORT"],
                    "VALUE": o["VALUE"],
                    "DEF": o["DEF"],
                    "XML_ID": o["XML_ID"],
                }
                for o in out["LIST"]
            ]
        return out

    def _uf_list(self, portal: Portal, _u: int, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        filt = p.get("filter") if isinstance(p.get("filter"), dict) else {}
        fields = [
            self._render_userfield(f)
            for f in sorted(portal.userfields.values(), key=lambda f: int(f["ID"]))
        ]
        for key, value in filt.items():
            if key in ("FIELD_NAME", "USER_TYPE_ID", "ID"):
                fields = [f for f in fields if str(f[key]) == str(value)]
        page, extra = _page(fields, p)
        return page, extra

    def _uf_get(self, portal: Portal, _u: int, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        f = portal.userfields.get(_positive(p.get("id")) or 0)
        if f is None:
            raise B24Error(400, "ERROR_NOT_FOUND", "The user field is not found")
        return self._render_userfield(f), {}

    def _uf_add(self, portal: Portal, _u: int, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        fields = p.get("fields")
        if not isinstance(fields, dict):
            raise B24Error(400, "ERROR_CORE", "Parameter 'fields' must be array")
        return self._create_userfield(portal, fields), {}

    def _uf_update(self, portal: Portal, _u: int, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        f = portal.userfields.get(_positive(p.get("id")) or 0)
        fields = p.get("fields")
        if f is None:
            raise B24Error(400, "ERROR_NOT_FOUND", "The user field is not found")
        if not isinstance(fields, dict):
            raise B24Error(400, "ERROR_CORE", "Parameter 'fields' must be array")
        if "LIST" in fields:
            if f["USER_TYPE_ID"] != "enumeration":
                raise B24Error(400, "ERROR_CORE", "LIST is only for enumeration fields")
            self._apply_list(portal, f, fields["LIST"])
        for key in ("EDIT_FORM_LABEL", "SORT", "SETTINGS"):
            if key in fields:
                f[key] = fields[key]
        return True, {}

    # timeline

    def _comment_add(
        self, portal: Portal, _u: int, p: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        fields = p.get("fields")  # §4.6: only the lowercase key
        if not isinstance(fields, dict):
            raise B24Error(400, "100", "Parameter 'fields' is missing")
        if str(fields.get("ENTITY_TYPE", "")).lower() != "deal":
            raise B24Error(400, "OWNER_NOT_FOUND", "Owner not found")
        deal_id = _positive(fields.get("ENTITY_ID"))
        if deal_id is None or deal_id not in portal.deals:
            raise B24Error(400, "OWNER_NOT_FOUND", "Owner not found")
        text = fields.get("COMMENT")
        if not isinstance(text, str) or not text.strip():
            raise B24Error(400, "INVALID_ARG_VALUE", "Empty comment")
        return self.add_comment_by_hand(portal.member_id, deal_id, text), {}

    def _comment_list(
        self, portal: Portal, _u: int, p: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        filt = p.get("filter")
        if not isinstance(filt, dict) or "ENTITY_ID" not in filt or "ENTITY_TYPE" not in filt:
            raise B24Error(400, "ERROR_ARGUMENT", "ENTITY_ID and ENTITY_TYPE are required")
        items = list(portal.comments.get(_positive(filt["ENTITY_ID"]) or 0, []))
        order = p.get("order") if isinstance(p.get("order"), dict) else {}
        if str(order.get("ID", "ASC")).upper() == "DESC":
            items.reverse()
        page, extra = _page([copy.deepcopy(c) for c in items], p)
        return page, extra

    # pipelines

    def _category_list(
        self, portal: Portal, _u: int, p: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        self._item_entity(p)
        cats = [
            {
                "id": cid,
                "name": name,
                "sort": sort,
                "entityTypeId": 2,
                "isDefault": "Y" if cid == 0 else "N",
            }
            for cid, (name, sort, _stages) in sorted(portal.categories.items())
        ]
        return {"categories": cats}, {"total": len(cats)}

    def _status_list(
        self, portal: Portal, _u: int, p: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        filt = p.get("filter") if isinstance(p.get("filter"), dict) else {}
        entity = str(filt.get("ENTITY_ID", ""))
        rows = []
        for cid, (_name, _sort, stages) in sorted(portal.categories.items()):
            entity_id = "DEAL_STAGE" if cid == 0 else f"DEAL_STAGE_{cid}"
            if entity and entity != entity_id:
                continue
            for stage in stages:
                semantics = {"S": "success", "F": "failure"}.get(stage.semantics or "", "process")
                rows.append({
                    "ID": str(abs(hash((cid, stage.status_id))) % 100000), "ENTITY_ID": entity_id,
                    "STATUS_ID": stage.status_id, "NAME": stage.name, "NAME_INIT": stage.name,
                    "SORT": str(stage.sort), "SYSTEM": "N", "CATEGORY_ID": str(cid),
                    "COLOR": "#39A8EF", "SEMANTICS": stage.semantics,
                    "EXTRA": {"SEMANTICS": semantics, "COLOR": "#39A8EF"},
                })  # fmt: skip
        page, extra = _page(rows, p)
        return page, extra

    # events

    def _event_bind(self, portal: Portal, _u: int, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        event = str(p.get("event") or "").upper()
        if event not in KNOWN_EVENTS:
            raise B24Error(400, "ERROR_EVENT_NOT_FOUND", "Event not found")
        offline = p.get("event_type") == "offline"
        handler = "" if offline else str(p.get("handler") or "")
        if not offline and not handler.startswith(("http://", "https://")):
            raise B24Error(400, "ERROR_ARGUMENT", "Handler is required")
        if any(
            b["event"] == event and b["handler"] == handler and b["offline"] == offline
            for b in portal.bindings
        ):
            raise B24Error(400, "ERROR_CORE", "Unable to set event handler: Handler already binded")
        portal.bindings.append({"event": event, "handler": handler, "offline": offline})
        return True, {}

    def _event_get(self, portal: Portal, _u: int, _p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return [
            {
                "event": b["event"],
                "handler": b["handler"],
                "auth_type": "0",
                "offline": int(b["offline"]),
            }
            for b in portal.bindings
        ], {}

    def _event_unbind(
        self, portal: Portal, _u: int, p: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        event = str(p.get("event") or "").upper()
        handler = str(p.get("handler") or "")
        before = len(portal.bindings)
        portal.bindings = [
            b for b in portal.bindings if not (b["event"] == event and b["handler"] == handler)
        ]
        return {"count": before - len(portal.bindings)}, {}

    def _offline_record(self, portal: Portal, event: str, deal_id: int) -> None:
        if not any(b["offline"] and b["event"] == event for b in portal.bindings):
            return
        key = (event, deal_id)
        # §6.5: one record per object, the latest change; the older record (reserved or not)
        # is replaced by a new one nobody holds yet.
        old = portal.offline.pop(key, None)
        if old is not None:
            portal.offline_reserved.pop(old["ID"], None)
            portal.offline_errors.discard(old["ID"])
        message = next(portal.next_ids["comment"])
        portal.offline[key] = {
            "ID": str(message), "TIMESTAMP_X": _iso(time.time()), "EVENT_NAME": event,
            "EVENT_DATA": {"FIELDS": {"ID": str(deal_id)}}, "EVENT_ADDITIONAL": {"user_id": "1"},
            "MESSAGE_ID": secrets.token_hex(8),
        }  # fmt: skip

    def _offline_holder(self, portal: Portal, record_id: str) -> str | None:
        held = portal.offline_reserved.get(record_id)
        if held is None:
            return None
        if time.time() - held[1] > self.offline_reservation_ttl:
            del portal.offline_reserved[record_id]
            return None
        return held[0]

    def _offline_get(
        self, portal: Portal, _u: int, p: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        limit = _positive(p.get("limit")) or 50
        clear = str(p.get("clear", "1")) != "0"
        with_errors = str(p.get("error", "0")) == "1"
        asked = str(p.get("process_id") or "")
        process_id = asked or (None if clear else secrets.token_hex(16))
        records = [
            (key, record)
            for key, record in portal.offline.items()
            # Parallel gets get disjoint sets: a record another process holds is not handed out.
            if self._offline_holder(portal, record["ID"]) in (None, asked or None)
            and (with_errors or record["ID"] not in portal.offline_errors)
        ][: min(limit, 1000)]
        for key, record in records:
            if clear:
                del portal.offline[key]
                portal.offline_reserved.pop(record["ID"], None)
                portal.offline_errors.discard(record["ID"])
            else:
                assert process_id is not None
                portal.offline_reserved[record["ID"]] = (process_id, time.time())
        return {
            "process_id": process_id,
            "events": [copy.deepcopy(r) for _, r in records],
        }, {}

    def _offline_held(self, portal: Portal, p: dict[str, Any]) -> tuple[str, list[Any]]:
        """The process's records named by ``id`` (else ``message_id``; else all of them)."""
        process_id = str(p.get("process_id") or "")
        if not process_id:
            raise B24Error(400, "ERROR_ARGUMENT", "Argument 'process_id' is null or empty")
        ids, message_ids = p.get("id"), p.get("message_id")
        held = [
            (key, r)
            for key, r in portal.offline.items()
            if self._offline_holder(portal, r["ID"]) == process_id
        ]
        if isinstance(ids, list | dict) and ids:
            wanted = {str(v) for v in (ids.values() if isinstance(ids, dict) else ids)}
            held = [(k, r) for k, r in held if r["ID"] in wanted]
        elif isinstance(message_ids, list | dict) and message_ids:
            values = message_ids.values() if isinstance(message_ids, dict) else message_ids
            wanted = {str(v) for v in values}
            held = [(k, r) for k, r in held if r["MESSAGE_ID"] in wanted]
        return process_id, held

    def _offline_clear(
        self, portal: Portal, _u: int, p: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        _pid, held = self._offline_held(portal, p)
        for key, record in held:
            del portal.offline[key]
            portal.offline_reserved.pop(record["ID"], None)
            portal.offline_errors.discard(record["ID"])
        return True, {}

    def _offline_error(
        self, portal: Portal, _u: int, p: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        if not p.get("message_id"):
            raise B24Error(400, "ERROR_ARGUMENT", "Argument 'message_id' is null or empty")
        _pid, held = self._offline_held(portal, {**p, "id": None})
        for _key, record in held:
            portal.offline_errors.add(record["ID"])
            portal.offline_reserved.pop(record["ID"], None)
        return True, {}

    def _offline_list(
        self, portal: Portal, _u: int, p: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        rows = [copy.deepcopy(r) for r in portal.offline.values()]
        page, extra = _page(rows, p)
        return page, extra

    def _placement_bind(
        self, portal: Portal, _u: int, p: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        code = str(p.get("PLACEMENT") or "")
        handler = str(p.get("HANDLER") or "")
        if not code or not handler:
            raise B24Error(200, "ERROR_ARGUMENT", "Argument is required", argument="PLACEMENT")
        if any(x["placement"] == code and x["handler"] == handler for x in portal.placements):
            raise B24Error(200, "ERROR_PLACEMENT_HANDLER_ALREADY_BINDED", "Handler already binded")
        portal.placements.append(
            {
                "placement": code,
                "handler": handler,
                "title": p.get("TITLE", ""),
                "userId": 0,
                "options": [],
            }
        )
        return True, {}

    def _placement_get(
        self, portal: Portal, _u: int, _p: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        return copy.deepcopy(portal.placements), {}


_METHODS: dict[
    str, Callable[[FakeBitrix24, Portal, int, dict[str, Any]], tuple[Any, dict[str, Any]]]
] = {
    "app.info": FakeBitrix24._app_info,
    "user.current": FakeBitrix24._user_current,
    "user.admin": FakeBitrix24._user_admin,
    "crm.deal.get": FakeBitrix24._deal_get,
    "crm.deal.update": FakeBitrix24._deal_update,
    "crm.item.get": FakeBitrix24._item_get,
    "crm.item.update": FakeBitrix24._item_update,
    "crm.item.list": FakeBitrix24._item_list,
    "crm.deal.userfield.list": FakeBitrix24._uf_list,
    "crm.deal.userfield.get": FakeBitrix24._uf_get,
    "crm.deal.userfield.add": FakeBitrix24._uf_add,
    "crm.deal.userfield.update": FakeBitrix24._uf_update,
    "crm.timeline.comment.add": FakeBitrix24._comment_add,
    "crm.timeline.comment.list": FakeBitrix24._comment_list,
    "crm.category.list": FakeBitrix24._category_list,
    "crm.status.list": FakeBitrix24._status_list,
    "event.bind": FakeBitrix24._event_bind,
    "event.get": FakeBitrix24._event_get,
    "event.unbind": FakeBitrix24._event_unbind,
    "event.offline.get": FakeBitrix24._offline_get,
    "event.offline.clear": FakeBitrix24._offline_clear,
    "event.offline.error": FakeBitrix24._offline_error,
    "event.offline.list": FakeBitrix24._offline_list,
    "placement.bind": FakeBitrix24._placement_bind,
    "placement.get": FakeBitrix24._placement_get,
}


def _positive(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    text = str(value).strip() if isinstance(value, int | str) else ""
    return int(text) if text.isdigit() and int(text) > 0 else None


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise B24Error(400, "", "Invalid number") from None


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ts))


def _iso_normal(text: str) -> str:
    from datetime import UTC, datetime

    try:
        return _iso(datetime.fromisoformat(text).astimezone(UTC).timestamp())
    except ValueError:
        raise B24Error(400, "ERROR_ARGUMENT", "Invalid date") from None


def _camel_uf(code: str) -> str:
    parts = code.removeprefix("UF_CRM_").split("_")
    return "ufCrm" + "".join(p.capitalize() for p in parts)


def _uncamel_uf(portal: Portal, key: str) -> str | None:
    return next(
        (f["FIELD_NAME"] for f in portal.userfields.values() if _camel_uf(f["FIELD_NAME"]) == key),
        None,
    )


def _page(items: list[Any], p: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    start = _positive(p.get("start")) or 0
    page = items[start : start + PAGE]
    extra: dict[str, Any] = {"total": len(items)}
    if start + PAGE < len(items):
        extra["next"] = start + PAGE
    return page, extra


def _unbracket(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """PHP-style keys (``fields[TITLE]``, ``fields[UF_X][]``) into nested dicts and lists."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        head, _, tail = key.partition("[")
        keys = [head] + (tail[:-1].split("][") if tail.endswith("]") else [])
        node: Any = out
        for i, part in enumerate(keys):
            last = i == len(keys) - 1
            if isinstance(node, list):
                if last:
                    node.append(value)
                    break
                child: dict[str, Any] = {}
                node.append(child)
                node = child
                continue
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, [] if keys[i + 1] == "" else {})
    return out


class _Handler(FakeHandler):
    fake: FakeBitrix24

    def _serve(self) -> None:
        headers, body = self.read_request()
        status, payload = self.fake.handle(
            self.command, self.path, headers, body, self.client_address[0]
        )
        raw = json.dumps(payload, ensure_ascii=False, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = _serve


FakeBitrix24.handler_class = _Handler  # the handler is written below the fake it serves


def main() -> None:
    """Serve the fake for manual runs: ``python -m tests.fakes.bitrix24 --port 8766``; prints the
    settings to use and an install callback body to POST to the platform."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--domain", default="acme.bitrix24.com")
    args = parser.parse_args()
    fake = FakeBitrix24(port=args.port).start()
    member_id = fake.add_portal(domain=args.domain)
    deal_id = fake.add_deal(member_id, title="Order #1042", opportunity="1500")
    print(
        json.dumps(
            {
                "api_base_url": fake.base_url,
                "oauth_override": fake.base_url,
                "client_id": fake.client_id,
                "client_secret": fake.client_secret,
                "member_id": member_id,
                "deal_id": deal_id,
                "install_callback_body": fake.install_callback(member_id).decode(),
            },
            indent=2,
        ),
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
