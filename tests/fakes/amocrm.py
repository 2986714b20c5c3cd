"""A strict fake of amoCRM served over real HTTP on 127.0.0.1 (shared/specs/amocrm.md).

    with FakeAmoCrm() as amo:
        account_id = amo.add_account(subdomain="chezaquest")
        code = amo.authorize(account_id)          # what the consent page would hand out
        ...  # point AMOCRM_API_BASE_URL (or CrmAccountRef.base_url) at amo.base_url

What it enforces like the real service: OAuth codes (single use, 20 min) and rotating refresh
tokens (a used refresh token and its access token die; reuse → 401 "Token has been revoked"),
Bearer auth on /api/v4, 7 requests per second per account (429 beyond), integer lead prices,
amoCRM-shaped custom_fields_values, per-account field and enum ids starting at random offsets,
the full-list enum semantics of PATCH, 204 for empty lists, problem+json validation errors.

Knobs for tests: ``fail_next``, ``fail_for``, ``fail_while``, ``delay_next``, ``revoke``,
``expire_access_tokens``, ``set_lead``, ``add_field``, ``disable_webhook``, ``add_pipeline``,
``add_contact`` / ``link_contact`` (a lead's buyer: EMAIL / PHONE multitext fields, read with
``GET /api/v4/leads/{id}?with=contacts`` then ``GET /api/v4/contacts/{id}``),
``move_lead_by_hand`` (a manager dragging the lead; every account has a main pipeline with the
unsorted inbox, four stages and the system stages 142/143; a PATCH of ``status_id``/``pipeline_id``
must name a stage of that pipeline other than the inbox). Observations:
``requests`` (a log), ``max_rps_seen``, ``token_grants``, ``lead``, ``notes``, ``fields``,
``webhooks``.
Helpers: ``webhook_form`` / ``fire_webhook`` (the form amoCRM posts), ``make_widget_token``
(the widget's disposable JWT), ``issue_tokens`` (a pair without the OAuth dance).
"""

from __future__ import annotations

import copy
import json
import random
import re
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import jwt

from tests.fakes._served import FakeHandler, ServedFake

DEFAULT_CLIENT_ID = "5f0e8a7c-1b2d-4e3f-9a8b-7c6d5e4f3a2b"
DEFAULT_CLIENT_SECRET = "fake-amocrm-client-secret-0123456789abcdefghijklmnopqrstuvwxyzABCD"
DEFAULT_REDIRECT_URI = "http://localhost:8000/integrations/amocrm/oauth/callback/"

FIELD_TYPES = {
    "text", "numeric", "checkbox", "select", "multiselect", "date", "url", "textarea",
    "radiobutton", "streetaddress", "smart_address", "birthday", "legal_entity", "date_time",
    "price", "category", "items", "tracking_data", "linked_entity", "monetary",
}  # fmt: skip
ENUM_TYPES = {"select", "multiselect", "radiobutton"}
WEBHOOK_EVENTS = {
    "add_lead", "update_lead", "delete_lead", "restore_lead", "status_lead", "responsible_lead",
    "note_lead", "add_contact", "update_contact", "delete_contact", "add_company",
    "update_company", "delete_company", "add_task", "update_task", "delete_task", "add_message",
    "add_talk", "update_talk",
}  # fmt: skip
NOTE_TYPES = {"common", "call_in", "call_out", "service_message", "extended_service_message",
              "sms_in", "sms_out", "geolocation", "attachment"}  # fmt: skip
CODE_RE = re.compile(r"^[A-Z0-9_]{1,64}$")
CODE_TTL = 20 * 60


class ApiError(Exception):
    def __init__(
        self, status: int, body: Any = None, content_type: str = "application/problem+json"
    ):
        super().__init__(status)
        self.status = status
        self.body = body
        self.content_type = content_type


def problem(status: int, title: str, detail: str = "", **extra: Any) -> ApiError:
    body = {
        "title": title,
        "type": f"https://httpstatus.es/{status}",
        "status": status,
        "detail": detail or title,
        **extra,
    }
    return ApiError(status, body)


def validation(*errors: tuple[str, str, str], request_id: str = "0") -> ApiError:
    items = [{"code": c, "path": p, "detail": d} for c, p, d in errors]
    return ApiError(
        400,
        {
            "validation-errors": [{"request_id": request_id, "errors": items}],
            "title": "Bad Request",
            "type": "https://httpstatus.es/400",
            "status": 400,
            "detail": "Request validation failed",
        },
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class LoggedRequest:
    at: float  # time.monotonic()
    account_id: int | None
    method: str
    path: str
    status: int


@dataclass
class FakeAccount:
    account_id: int
    subdomain: str
    rng: random.Random
    next_field_id: int
    user_id: int
    leads: dict[int, dict[str, Any]] = field(default_factory=dict)
    fields: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    pipelines: dict[int, dict[str, Any]] = field(default_factory=dict)
    stage_moves: list[tuple[int, int, int]] = field(
        default_factory=list
    )  # (lead, pipeline, status)
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    lead_contacts: dict[int, list[tuple[int, bool]]] = field(default_factory=dict)  # (id, main)
    # The system multitext fields of contacts, with per-account ids: {"PHONE": id, "EMAIL": id}.
    contact_field_ids: dict[str, int] = field(default_factory=dict)
    arrivals: deque[float] = field(default_factory=deque)
    revoked_status: int | None = None
    banned: bool = False
    recent_429s: int = 0


@dataclass
class Failure:
    status: int
    path_contains: str
    retry_after: int | None
    remaining: int | None = None  # a count, or None for a time window
    until: float | None = None
    while_: Callable[[], bool] | None = None  # or for as long as this says so


class FakeAmoCrm(ServedFake):
    thread_name = "fake-amocrm"

    def __init__(
        self,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        redirect_uri: str = DEFAULT_REDIRECT_URI,
        rate_limit: int | None = 7,
        access_ttl: int = 86400,
        refresh_reuse_status: int = 401,
        ban_after_429s: int | None = None,
        missing_lead_status: int = 204,
        seed: int | None = None,
        port: int = 0,
    ) -> None:
        super().__init__(seed=seed, port=port)
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.rate_limit = rate_limit
        self.access_ttl = access_ttl
        self.refresh_reuse_status = refresh_reuse_status
        self.ban_after_429s = ban_after_429s
        self.missing_lead_status = missing_lead_status
        self.accounts: dict[int, FakeAccount] = {}
        self.codes: dict[str, tuple[int, float, bool]] = {}  # code → (account, issued, used)
        self.access_tokens: dict[str, tuple[int, float]] = {}  # token → (account, expires)
        self.refresh_tokens: dict[str, tuple[int, str, bool]] = {}  # → (account, access, used)
        self.token_grants: list[tuple[str, int | None, int]] = []  # (grant, account, status)
        self.requests: list[LoggedRequest] = []
        self.failures: list[Failure] = []
        self.delays: list[float] = []
        self.webhook_posts: list[httpx.Response] = []
        self._enum_ids = self.rng.randint(3_000_000, 7_000_000)
        self._note_ids = self.rng.randint(50_000_000, 90_000_000)

    # -- accounts and tokens ------------------------------------------------------------------

    def add_account(
        self,
        *,
        account_id: int | None = None,
        subdomain: str | None = None,
        with_default_fields: bool = True,
    ) -> int:
        with self.lock:
            account_id = account_id or self.rng.randint(10_000_000, 39_999_999)
            rng = random.Random(account_id)
            account = FakeAccount(
                account_id=account_id,
                subdomain=subdomain or f"test{account_id}",
                rng=rng,
                next_field_id=rng.randint(100_000, 2_900_000),
                user_id=rng.randint(5_000_000, 9_000_000),
            )
            account.contact_field_ids = {
                code: rng.randint(100_000, 2_900_000) for code in ("PHONE", "EMAIL")
            }
            self.accounts[account_id] = account
            # Every account has a main pipeline (its ids differ per account, like field ids).
            self.add_pipeline(
                account_id,
                "Воронка",
                ["Первичный контакт", "Переговоры", "Принимают решение", "Согласование договора"],
                is_main=True,
            )
            if with_default_fields:
                # Fields an account already has, so nothing can assume "ours come first".
                self.add_field(
                    account_id, "Источник", "select", enums=["Сайт", "Instagram", "Звонок"]
                )
                self.add_field(account_id, "utm_source", "text", code="UTM_SOURCE")
            return account_id

    def authorize(self, account_id: int) -> str:
        """The code the consent page (or the install hook) would hand to the Redirect URI."""
        with self.lock:
            code = "def502" + secrets.token_hex(24)
            self.codes[code] = (account_id, time.time(), False)
            return code

    def issue_tokens(self, account_id: int, *, expires_in: int | None = None) -> dict[str, Any]:
        """A fresh pair without the OAuth dance (as the token endpoint would answer)."""
        with self.lock:
            return self._issue_pair(account_id, expires_in)

    def _issue_pair(self, account_id: int, expires_in: int | None = None) -> dict[str, Any]:
        ttl = self.access_ttl if expires_in is None else expires_in
        access = "fake-access-" + secrets.token_urlsafe(24)
        refresh = "def50200" + secrets.token_hex(32)
        self.access_tokens[access] = (account_id, time.time() + ttl)
        self.refresh_tokens[refresh] = (account_id, access, False)
        return {
            "token_type": "Bearer",
            "expires_in": ttl,
            "access_token": access,
            "refresh_token": refresh,
            "server_time": int(time.time()),
        }

    def expire_access_tokens(self, account_id: int) -> None:
        with self.lock:
            for token, (owner, _expires) in list(self.access_tokens.items()):
                if owner == account_id:
                    self.access_tokens[token] = (owner, 0.0)

    def revoke(self, account_id: int, status: int = 403) -> None:
        """403: an API ban / disabled integration; 401: tokens revoked (refresh fails too)."""
        with self.lock:
            self.accounts[account_id].revoked_status = status

    def refresh_count(self, account_id: int | None = None) -> int:
        with self.lock:
            return sum(
                1
                for grant, owner, status in self.token_grants
                if grant == "refresh_token"
                and status == 200
                and (account_id is None or owner == account_id)
            )

    # -- failure knobs ----------------------------------------------------------------------

    def fail_next(
        self, n: int, status: int, *, path_contains: str = "/api/v4", retry_after: int | None = None
    ) -> None:
        with self.lock:
            self.failures.append(Failure(status, path_contains, retry_after, remaining=n))

    def fail_for(
        self,
        seconds: float,
        status: int,
        *,
        path_contains: str = "/api/v4",
        retry_after: int | None = None,
    ) -> None:
        with self.lock:
            self.failures.append(
                Failure(status, path_contains, retry_after, until=time.monotonic() + seconds)
            )

    def fail_while(
        self,
        condition: Callable[[], bool],
        status: int,
        *,
        path_contains: str = "/api/v4",
        retry_after: int | None = None,
    ) -> None:
        """Fail while `condition()` holds, e.g. until a test clock says an hour has passed."""
        with self.lock:
            self.failures.append(Failure(status, path_contains, retry_after, while_=condition))

    def clear_failures(self) -> None:
        """Forget every scheduled failure and delay (a session-wide fake between tests)."""
        with self.lock:
            self.failures.clear()
            self.delays.clear()

    def delay_next(self, n: int, seconds: float) -> None:
        with self.lock:
            self.delays.extend([seconds] * n)

    def _scheduled_failure(self, path: str) -> Failure | None:
        now = time.monotonic()
        for failure in list(self.failures):
            if failure.path_contains not in path:
                continue
            if failure.remaining is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self.failures.remove(failure)
                return failure
            if failure.until is not None and now < failure.until:
                return failure
            if failure.while_ is not None and failure.while_():
                return failure
            self.failures.remove(failure)
        return None

    # -- data knobs and observations ----------------------------------------------------------

    def add_field(
        self,
        account_id: int,
        name: str,
        type_: str,
        *,
        code: str | None = None,
        enums: Sequence[str] = (),
        sort: int = 100,
    ) -> dict[str, Any]:
        with self.lock:
            account = self.accounts[account_id]
            created = self._create_field(
                account,
                {
                    "name": name,
                    "type": type_,
                    "code": code,
                    "sort": sort,
                    "enums": [{"value": v, "sort": (i + 1) * 10} for i, v in enumerate(enums)]
                    or None,
                },
            )
            return copy.deepcopy(created)

    # -- pipelines ----------------------------------------------------------------------------

    def add_pipeline(
        self,
        account_id: int,
        name: str,
        stages: Sequence[str],
        *,
        is_main: bool = False,
        is_archive: bool = False,
    ) -> dict[str, Any]:
        """A pipeline with the unsorted inbox (type 1), ``stages`` in this order (sort 20, 30,
        ...; ids at a random offset) and the shared system stages 142 (won) and 143 (lost)."""
        with self.lock:
            account = self.accounts[account_id]
            pipeline_id = account.rng.randint(5_000_000, 9_999_999)
            while pipeline_id in account.pipelines:
                pipeline_id += 1
            base = account.rng.randint(40_000_000, 79_000_000)
            statuses = [{"id": base, "name": "Неразобранное", "sort": 10, "type": 1}]
            statuses += [
                {"id": base + n, "name": stage, "sort": 10 + 10 * n, "type": 0}
                for n, stage in enumerate(stages, start=1)
            ]
            statuses += [
                {"id": 142, "name": "Успешно реализовано", "sort": 10000, "type": 0},
                {"id": 143, "name": "Закрыто и не реализовано", "sort": 11000, "type": 0},
            ]
            account.pipelines[pipeline_id] = {
                "id": pipeline_id,
                "name": name,
                "sort": 1 + len(account.pipelines),
                "is_main": is_main,
                "is_archive": is_archive,
                "statuses": statuses,
            }
            return self._render_pipeline(account, account.pipelines[pipeline_id])

    def pipelines(self, account_id: int) -> list[dict[str, Any]]:
        with self.lock:
            account = self.accounts[account_id]
            return [self._render_pipeline(account, p) for p in account.pipelines.values()]

    def stage_id(self, account_id: int, pipeline_id: int, name: str) -> int:
        """The id of the stage called ``name`` in that pipeline."""
        with self.lock:
            statuses = self.accounts[account_id].pipelines[pipeline_id]["statuses"]
            return int(next(s["id"] for s in statuses if s["name"] == name))

    def stage_moves(self, account_id: int, lead_id: int) -> list[int]:
        """The status ids the API set on the lead, in order (a manager's moves are not here)."""
        with self.lock:
            moves = self.accounts[account_id].stage_moves
            return [status for lead, _pipeline, status in moves if lead == lead_id]

    def main_pipeline_id(self, account_id: int) -> int:
        with self.lock:
            pipelines = self.accounts[account_id].pipelines.values()
            return int(next(p["id"] for p in pipelines if p["is_main"]))

    def move_lead_by_hand(
        self, account_id: int, lead_id: int, status_id: int, pipeline_id: int | None = None
    ) -> None:
        """What a manager dragging the lead in amoCRM's UI does (no API call, no rate limit)."""
        with self.lock:
            lead = self.accounts[account_id].leads[lead_id]
            pipeline = pipeline_id or lead["pipeline_id"]
            self._check_stage(self.accounts[account_id], pipeline, status_id, "0")
            lead["pipeline_id"], lead["status_id"] = pipeline, status_id
            lead["updated_at"] = int(time.time())

    def _check_stage(
        self, account: FakeAccount, pipeline_id: Any, status_id: Any, request_id: str
    ) -> None:
        if not _is_int(pipeline_id) or pipeline_id not in account.pipelines:
            raise validation(
                ("NotSupportedChoice", "pipeline_id", "pipeline not found"), request_id=request_id
            )
        statuses = account.pipelines[pipeline_id]["statuses"]
        status = next((s for s in statuses if _is_int(status_id) and s["id"] == status_id), None)
        if status is None:
            raise validation(
                ("NotSupportedChoice", "status_id", "status not found in the pipeline"),
                request_id=request_id,
            )
        if status["type"] == 1:
            raise validation(
                ("NotSupportedChoice", "status_id", "a lead cannot be moved into unsorted"),
                request_id=request_id,
            )

    def _render_pipeline(self, account: FakeAccount, p: dict[str, Any]) -> dict[str, Any]:
        href = f"{self.base_url}/api/v4/leads/pipelines/{p['id']}"
        return copy.deepcopy(
            {
                "id": p["id"],
                "name": p["name"],
                "sort": p["sort"],
                "is_main": p["is_main"],
                "is_unsorted_on": True,
                "is_archive": p["is_archive"],
                "account_id": account.account_id,
                "_links": {"self": {"href": href}},
                "_embedded": {
                    "statuses": [
                        {
                            "id": s["id"],
                            "name": s["name"],
                            "sort": s["sort"],
                            "is_editable": s["id"] not in (142, 143) and s["type"] != 1,
                            "pipeline_id": p["id"],
                            "color": "#99ccff",
                            "type": s["type"],
                            "account_id": account.account_id,
                            "_links": {"self": {"href": f"{href}/statuses/{s['id']}"}},
                        }
                        for s in p["statuses"]
                    ]
                },
            }
        )

    # -- leads ------------------------------------------------------------------------------

    def set_lead(
        self,
        account_id: int,
        lead_id: int,
        price: int,
        *,
        location_enum_id: int | None = None,
        name: str | None = None,
        updated_at: int | None = None,
        pipeline_id: int | None = None,
        status_id: int | None = None,
    ) -> dict[str, Any]:
        """Create or replace a lead; ``location_enum_id`` selects that option of whichever
        select field owns it. By default the lead is in the first stage after "unsorted" of
        the main pipeline (or of ``pipeline_id``)."""
        with self.lock:
            account = self.accounts[account_id]
            pipeline = pipeline_id or self.main_pipeline_id(account_id)
            status = status_id or account.pipelines[pipeline]["statuses"][1]["id"]
            now = updated_at or int(time.time())
            lead: dict[str, Any] = {
                "id": lead_id,
                "name": name or f"Сделка #{lead_id}",
                "price": price,
                "responsible_user_id": account.user_id,
                "group_id": 0,
                "status_id": status,
                "pipeline_id": pipeline,
                "loss_reason_id": None,
                "created_by": account.user_id,
                "updated_by": account.user_id,
                "created_at": now - 60,
                "updated_at": now,
                "closed_at": None,
                "closest_task_at": None,
                "is_deleted": False,
                "score": None,
                "account_id": account_id,
                "labor_cost": None,
                "cf": {},
            }
            if location_enum_id is not None:
                owner = next(
                    (
                        f
                        for f in account.fields.values()
                        if any(e["id"] == location_enum_id for e in f["enums"] or [])
                    ),
                    None,
                )
                if owner is None:
                    raise KeyError(f"no field has enum {location_enum_id}")
                lead["cf"][owner["id"]] = [{"enum_id": location_enum_id}]
            account.leads[lead_id] = lead
            return self._render_lead(account, lead)

    def delete_lead(self, account_id: int, lead_id: int) -> None:
        with self.lock:
            self.accounts[account_id].leads.pop(lead_id, None)

    # -- contacts ---------------------------------------------------------------------------

    def add_contact(
        self,
        account_id: int,
        *,
        name: str = "Покупатель",
        emails: Sequence[str] = (),
        phones: Sequence[str] = (),
    ) -> int:
        """A contact with these EMAIL / PHONE values (multitext, enum_code WORK); its id."""
        with self.lock:
            account = self.accounts[account_id]
            contact_id = account.rng.randint(10_000_000, 99_999_999)
            now = int(time.time())
            account.contacts[contact_id] = {
                "id": contact_id,
                "name": name,
                "first_name": name,
                "last_name": "",
                "responsible_user_id": account.user_id,
                "group_id": 0,
                "created_by": account.user_id,
                "updated_by": account.user_id,
                "created_at": now,
                "updated_at": now,
                "closest_task_at": None,
                "is_deleted": False,
                "is_unsorted": False,
                "account_id": account_id,
                "cf": {"EMAIL": list(emails), "PHONE": list(phones)},
            }
            return contact_id

    def link_contact(
        self, account_id: int, lead_id: int, contact_id: int, *, is_main: bool = True
    ) -> None:
        """Attach the contact to the lead (one main contact per lead, like amoCRM)."""
        with self.lock:
            account = self.accounts[account_id]
            links = [
                (cid, main and not is_main)
                for cid, main in account.lead_contacts.get(lead_id, [])
                if cid != contact_id
            ]
            account.lead_contacts[lead_id] = [*links, (contact_id, is_main)]

    def delete_contact(self, account_id: int, contact_id: int) -> None:
        with self.lock:
            self.accounts[account_id].contacts.pop(contact_id, None)

    def _render_contact(self, account: FakeAccount, contact: dict[str, Any]) -> dict[str, Any]:
        names = {"PHONE": "Телефон", "EMAIL": "Email"}
        values = [
            {
                "field_id": account.contact_field_ids[code],
                "field_name": names[code],
                "field_code": code,
                "field_type": "multitext",
                "values": [
                    {
                        "value": v,
                        "enum_id": account.contact_field_ids[code] + 1,
                        "enum_code": "WORK",
                    }
                    for v in contact["cf"][code]
                ],
                "is_computed": False,
            }
            for code in ("PHONE", "EMAIL")
            if contact["cf"][code]
        ]
        out = {k: v for k, v in contact.items() if k != "cf"}
        out["custom_fields_values"] = values or None
        out["_links"] = {"self": {"href": f"{self.base_url}/api/v4/contacts/{contact['id']}"}}
        out["_embedded"] = {"tags": [], "companies": []}
        return copy.deepcopy(out)

    def lead(self, account_id: int, lead_id: int) -> dict[str, Any]:
        with self.lock:
            account = self.accounts[account_id]
            return self._render_lead(account, account.leads[lead_id])

    def lead_values(self, account_id: int, lead_id: int) -> dict[str, Any]:
        """{field name: value or [values]} of a lead, for readable assertions."""
        rendered = self.lead(account_id, lead_id)
        result: dict[str, Any] = {}
        for item in rendered["custom_fields_values"] or []:
            values = [v.get("value") for v in item["values"]]
            result[item["field_name"]] = values[0] if len(values) == 1 else values
        return result

    def notes(self, account_id: int, lead_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self.accounts[account_id].notes.get(lead_id, []))

    def fields(self, account_id: int) -> list[dict[str, Any]]:
        with self.lock:
            account = self.accounts[account_id]
            return [self._render_field(account, f) for f in account.fields.values()]

    def field_by_name(self, account_id: int, name: str) -> list[dict[str, Any]]:
        return [f for f in self.fields(account_id) if f["name"] == name]

    def webhooks(self, account_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(list(self.accounts[account_id].webhooks.values()))

    def disable_webhook(self, account_id: int, destination: str) -> None:
        with self.lock:
            self.accounts[account_id].webhooks[destination]["disabled"] = True

    def api_requests(
        self,
        account_id: int | None = None,
        methods: Iterable[str] = ("GET", "POST", "PATCH", "DELETE"),
    ) -> list[LoggedRequest]:
        wanted = set(methods)
        with self.lock:
            return [
                r
                for r in self.requests
                if r.path.startswith("/api/v4")
                and r.method in wanted
                and (account_id is None or r.account_id == account_id)
            ]

    def max_rps_seen(self, account_id: int | None = None) -> int:
        """Most requests that reached /api/v4 within any 1-second window (per account)."""
        with self.lock:
            by_account: dict[int | None, list[float]] = {}
            for r in self.requests:
                if (
                    r.path.startswith("/api/v4")
                    and r.account_id is not None
                    and (account_id is None or r.account_id == account_id)
                ):
                    by_account.setdefault(r.account_id, []).append(r.at)
        best = 0
        for times in by_account.values():
            times.sort()
            start = 0
            for end, t in enumerate(times):
                while t - times[start] >= 1.0:
                    start += 1
                best = max(best, end - start + 1)
        return best

    # -- webhooks and widget tokens -----------------------------------------------------------

    def webhook_form(
        self,
        account_id: int,
        lead_id: int,
        action: str = "update",
        *,
        price: int | None = None,
        location_enum_id: int | None = None,
    ) -> list[tuple[str, str]]:
        """The form amoCRM posts for a lead event (§3.2): PHP-style keys, strings only."""
        with self.lock:
            account = self.accounts[account_id]
            lead = account.leads.get(lead_id, {})
            p = f"leads[{action}][0]"
            now = int(time.time())
            pairs = [(f"{p}[id]", str(lead_id))]
            if action != "delete":
                pairs += [
                    (f"{p}[name]", str(lead.get("name", f"Сделка #{lead_id}"))),
                    (f"{p}[status_id]", str(lead.get("status_id", 67548619))),
                    (f"{p}[old_status_id]", "67548607"),
                    (f"{p}[pipeline_id]", str(lead.get("pipeline_id", 8572511))),
                    (f"{p}[price]", str(price if price is not None else lead.get("price", 0))),
                    (f"{p}[responsible_user_id]", str(account.user_id)),
                    (f"{p}[last_modified]", str(now)),
                    (f"{p}[modified_user_id]", str(account.user_id)),
                    (f"{p}[created_user_id]", str(account.user_id)),
                    (f"{p}[date_create]", str(now - 60)),
                    (f"{p}[account_id]", str(account_id)),
                ]
                enum_id = location_enum_id
                if enum_id is None:
                    for values in lead.get("cf", {}).values():
                        enum_id = next((v["enum_id"] for v in values if "enum_id" in v), None)
                if enum_id is not None:
                    owner = next(
                        (
                            f
                            for f in account.fields.values()
                            if any(e["id"] == enum_id for e in f["enums"] or [])
                        ),
                        None,
                    )
                    if owner is not None:
                        text = next(e["value"] for e in owner["enums"] if e["id"] == enum_id)
                        c = f"{p}[custom_fields][0]"
                        pairs += [
                            (f"{c}[id]", str(owner["id"])),
                            (f"{c}[name]", owner["name"]),
                            (f"{c}[values][0][value]", text),
                            (f"{c}[values][0][enum]", str(enum_id)),
                        ]
            pairs += [
                ("account[subdomain]", account.subdomain),
                ("account[id]", str(account_id)),
                ("account[_links][self]", f"https://{account.subdomain}.amocrm.ru"),
            ]
            return pairs

    def fire_webhook(
        self, url: str, account_id: int, lead_id: int, action: str = "update", **kwargs: Any
    ) -> httpx.Response:
        pairs = self.webhook_form(account_id, lead_id, action, **kwargs)
        response = httpx.post(
            url,
            content=urlencode(pairs),
            timeout=5,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "amoCRM-Webhooks/3.0",
            },
        )
        self.webhook_posts.append(response)
        return response

    def make_widget_token(
        self,
        account_id: int,
        *,
        aud: str,
        user_id: int | None = None,
        subdomain: str | None = None,
        iat: int | None = None,
        ttl: int = 1800,
        nbf: int | None = None,
        jti: str | None = None,
        secret: str | None = None,
        algorithm: str = "HS256",
        client_uuid: str | None = None,
        omit: Sequence[str] = (),
        extra: dict[str, Any] | None = None,
    ) -> str:
        """The disposable token ``$authorizedAjax`` sends as X-Auth-Token (§5)."""
        account = self.accounts.get(account_id)
        sub = subdomain or (account.subdomain if account else "test")
        issued = int(time.time()) if iat is None else iat
        claims: dict[str, Any] = {
            "iss": f"https://{sub}.amocrm.ru",
            "aud": aud,
            "jti": jti or str(uuid.uuid4()),
            "iat": issued,
            "nbf": issued if nbf is None else nbf,
            "exp": issued + ttl,
            "account_id": account_id,
            "user_id": user_id if user_id is not None else (account.user_id if account else 1),
            "subdomain": sub,
            "client_uuid": client_uuid or self.client_id,
        }
        claims.update(extra or {})
        for name in omit:
            claims.pop(name, None)
        if algorithm == "none":
            return jwt.encode(claims, "", algorithm="none")
        return jwt.encode(claims, secret or self.client_secret, algorithm=algorithm)

    # -- request handling ---------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, at: float
    ) -> tuple[int, Any, str, int | None]:
        """Answer one request: (status, JSON-able body or text, content type, account id)."""
        parts = urlsplit(raw_path)
        path = parts.path.rstrip("/") or "/"
        query = parse_qsl(parts.query, keep_blank_values=True)
        with self.lock:
            delay = self.delays.pop(0) if self.delays else 0.0
        if delay:
            time.sleep(delay)
        account_id: int | None = None
        try:
            if path == "/oauth2/access_token":
                if method != "POST":
                    raise problem(405, "Method Not Allowed")
                with self.lock:
                    failure = self._scheduled_failure(path)
                if failure is not None:
                    raise ApiError(failure.status, {"title": "Error", "status": failure.status})
                status, payload = self._token_endpoint(headers, body)
                return status, payload, "application/json", None
            if not path.startswith("/api/v4/"):
                raise problem(404, "Not Found")
            with self.lock:
                account = self._authenticate(headers)
                account_id = account.account_id
                self._gatekeep(account, path, at)
                status, payload = self._route(account, method, path, query, body)
            return status, payload, "application/hal+json", account_id
        except ApiError as error:
            return error.status, error.body, error.content_type, account_id

    def log(self, account_id: int | None, method: str, path: str, status: int, at: float) -> None:
        with self.lock:
            self.requests.append(LoggedRequest(at, account_id, method, path, status))

    def _authenticate(self, headers: dict[str, str]) -> FakeAccount:
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        owner = self.access_tokens.get(token)
        if owner is None or owner[1] < time.time():
            raise problem(401, "Unauthorized", "Неверный логин или пароль")
        return self.accounts[owner[0]]

    def _gatekeep(self, account: FakeAccount, path: str, at: float) -> None:
        account.arrivals.append(at)
        while account.arrivals and at - account.arrivals[0] >= 2.0:
            account.arrivals.popleft()
        in_last_second = sum(1 for t in account.arrivals if 0 <= at - t < 1.0)
        if account.revoked_status is not None:
            raise problem(
                account.revoked_status,
                "Forbidden" if account.revoked_status == 403 else "Unauthorized",
                "Access revoked",
            )
        if account.banned:
            raise ApiError(
                403, "<html><body><h1>403 Forbidden</h1>nginx</body></html>", "text/html"
            )
        failure = self._scheduled_failure(path)
        if failure is not None:
            if failure.status == 429:
                body: Any = {
                    "title": "Too Many Requests",
                    "status": 429,
                    "detail": "Too Many Requests",
                }
                if failure.retry_after is not None:
                    body["retry_after"] = failure.retry_after
                raise ApiError(429, body, "application/problem+json")
            raise ApiError(
                failure.status, f"<html><body>{failure.status}</body></html>", "text/html"
            )
        if self.rate_limit is not None and in_last_second > self.rate_limit:
            account.recent_429s += 1
            if self.ban_after_429s is not None and account.recent_429s >= self.ban_after_429s:
                account.banned = True
            raise ApiError(429, "Too Many Requests", "text/plain")

    # -- /oauth2/access_token -------------------------------------------------------------------

    def _token_endpoint(self, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if "json" in headers.get("content-type", ""):
            try:
                data = json.loads(body or b"{}")
            except ValueError:
                raise problem(400, "Некорректный запрос", "invalid JSON") from None
        else:
            data = dict(parse_qsl(body.decode("utf-8", "replace")))
        if not isinstance(data, dict):
            raise problem(400, "Некорректный запрос")
        grant = str(data.get("grant_type", ""))
        with self.lock:
            try:
                if (
                    data.get("client_id") != self.client_id
                    or data.get("client_secret") != self.client_secret
                ):
                    raise self._oauth_error(401, "Client authentication failed")
                if data.get("redirect_uri") != self.redirect_uri:
                    raise self._oauth_error(400, "Redirect URI mismatch")
                if grant == "authorization_code":
                    entry = self.codes.get(str(data.get("code", "")))
                    if entry is None or entry[2] or time.time() - entry[1] > CODE_TTL:
                        raise self._oauth_error(400, "Authorization code has expired or was used")
                    account_id = entry[0]
                    self.codes[str(data["code"])] = (account_id, entry[1], True)
                elif grant == "refresh_token":
                    refresh = str(data.get("refresh_token", ""))
                    entry2 = self.refresh_tokens.get(refresh)
                    if entry2 is None:
                        raise self._oauth_error(400, "Cannot decrypt the refresh token")
                    account_id, old_access, used = entry2
                    if used:
                        raise self._oauth_error(self.refresh_reuse_status, "Token has been revoked")
                    if self.accounts[account_id].revoked_status is not None:
                        raise self._oauth_error(401, "Token has been revoked")
                    self.refresh_tokens[refresh] = (account_id, old_access, True)
                    self.access_tokens.pop(old_access, None)
                else:
                    raise self._oauth_error(400, "Unsupported grant type")
            except ApiError as error:
                self.token_grants.append((grant, None, error.status))
                raise
            self.token_grants.append((grant, account_id, 200))
            return 200, self._issue_pair(account_id)

    @staticmethod
    def _oauth_error(status: int, hint: str) -> ApiError:
        return ApiError(
            status,
            {
                "hint": hint,
                "title": "Некорректный запрос",
                "type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson",
                "status": status,
                "detail": "В запросе отсутствует ряд параметров или параметры невалидны",
            },
        )

    # -- /api/v4 --------------------------------------------------------------------------------

    def _route(
        self,
        account: FakeAccount,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        body: bytes,
    ) -> tuple[int, Any]:
        data = self._json(body) if method in ("POST", "PATCH", "DELETE") and body else None
        q = dict(query)
        if path == "/api/v4/account" and method == "GET":
            return 200, {
                "id": account.account_id,
                "name": f"Account {account.subdomain}",
                "subdomain": account.subdomain,
                "current_user_id": account.user_id,
                "country": "RU",
                "currency": "RUB",
                "currency_symbol": "₽",
                "customers_mode": "disabled",
                "is_unsorted_on": True,
                "is_technical_account": False,
                "_links": {"self": {"href": f"{self.base_url}/api/v4/account"}},
            }
        if path == "/api/v4/leads/custom_fields":
            if method == "GET":
                return self._list(
                    q,
                    [self._render_field(account, f) for f in account.fields.values()],
                    "custom_fields",
                    path,
                )
            if method == "POST":
                items = self._require_list(data)
                created = [
                    self._create_field(account, item, str(i)) for i, item in enumerate(items)
                ]
                return 201, {
                    "_total_items": len(created),
                    "_embedded": {
                        "custom_fields": [self._render_field(account, f) for f in created]
                    },
                }
            if method == "PATCH":
                items = self._require_list(data)
                updated = [
                    self._patch_field(account, item, None, str(i)) for i, item in enumerate(items)
                ]
                return 200, {
                    "_embedded": {
                        "custom_fields": [self._render_field(account, f) for f in updated]
                    }
                }
        if m := re.fullmatch(r"/api/v4/leads/custom_fields/(\d+)", path):
            field_id = int(m.group(1))
            if field_id not in account.fields:
                raise problem(404, "Not Found")
            if method == "GET":
                return 200, self._render_field(account, account.fields[field_id])
            if method == "PATCH":
                if not isinstance(data, dict):
                    raise validation(("InvalidType", "", "object expected"))
                return 200, self._render_field(
                    account, self._patch_field(account, data, field_id, "0")
                )
        if m := re.fullmatch(r"/api/v4/leads/(\d+)", path):
            lead_id = int(m.group(1))
            if method == "GET":
                if lead_id not in account.leads and self.missing_lead_status == 204:
                    return 204, None
                if lead_id not in account.leads:
                    raise problem(404, "Not Found")
                rendered = self._render_lead(account, account.leads[lead_id])
                if "contacts" in q.get("with", "").split(","):
                    # Only with `with=contacts`: {id, is_main, _links} per linked contact (§2.1).
                    rendered["_embedded"]["contacts"] = [
                        {
                            "id": cid,
                            "is_main": main,
                            "_links": {"self": {"href": f"{self.base_url}/api/v4/contacts/{cid}"}},
                        }
                        for cid, main in account.lead_contacts.get(lead_id, [])
                        if cid in account.contacts
                    ]
                return 200, rendered
            if method == "PATCH":
                if not isinstance(data, dict):
                    raise validation(("InvalidType", "", "object expected"))
                return 200, self._patch_lead(account, {**data, "id": lead_id}, "0")
        if (m := re.fullmatch(r"/api/v4/contacts/(\d+)", path)) and method == "GET":
            contact = account.contacts.get(int(m.group(1)))
            if contact is None and self.missing_lead_status == 204:
                return 204, None
            if contact is None:
                raise problem(404, "Not Found")
            return 200, self._render_contact(account, contact)
        if path == "/api/v4/leads" and method == "PATCH":
            items = self._require_list(data)
            results = [self._patch_lead(account, item, str(i)) for i, item in enumerate(items)]
            return 200, {"_embedded": {"leads": results}}
        if m := re.fullmatch(r"/api/v4/leads/(\d+)/notes", path):
            lead_id = int(m.group(1))
            if method == "POST":
                items = self._require_list(data)
                return 200, self._add_notes(
                    account,
                    [{**i, "entity_id": lead_id} if isinstance(i, dict) else i for i in items],
                )
            if method == "GET":
                return self._list_notes(account, q, path, lead_id)
        if path == "/api/v4/leads/notes":
            if method == "POST":
                return 200, self._add_notes(account, self._require_list(data))
            if method == "GET":
                return self._list_notes(account, q, path, None)
        if path == "/api/v4/webhooks":
            return self._webhooks(account, method, q, data)
        if path == "/api/v4/leads/pipelines" or path.startswith("/api/v4/leads/pipelines/"):
            return self._pipelines_route(account, method, path)
        raise problem(404, "Not Found")

    def _pipelines_route(self, account: FakeAccount, method: str, path: str) -> tuple[int, Any]:
        if method != "GET":  # creating and editing pipelines is not part of the fake
            raise problem(405, "Method Not Allowed")
        if path == "/api/v4/leads/pipelines":
            items = [self._render_pipeline(account, p) for p in account.pipelines.values()]
            return 200, {
                "_total_items": len(items),
                "_links": {"self": {"href": f"{self.base_url}{path}"}},
                "_embedded": {"pipelines": items},
            }
        m = re.fullmatch(r"/api/v4/leads/pipelines/(\d+)(/statuses)?", path)
        pipeline = account.pipelines.get(int(m.group(1))) if m else None
        if m is None or pipeline is None:
            raise problem(404, "Not Found")
        rendered = self._render_pipeline(account, pipeline)
        if m.group(2):
            return 200, {
                "_total_items": len(pipeline["statuses"]),
                "_links": {"self": {"href": f"{self.base_url}{path}"}},
                "_embedded": {"statuses": rendered["_embedded"]["statuses"]},
            }
        return 200, rendered

    @staticmethod
    def _json(body: bytes) -> Any:
        try:
            return json.loads(body, parse_float=Decimal)
        except ValueError:
            raise problem(400, "Bad Request", "Invalid JSON body") from None

    @staticmethod
    def _require_list(data: Any) -> list[Any]:
        if not isinstance(data, list) or not data:
            raise validation(("InvalidType", "", "a non-empty array is expected"))
        if len(data) > 250:
            raise validation(("TooManyEntities", "", "no more than 250 entities"))
        return data

    def _list(
        self, q: dict[str, str], items: list[dict[str, Any]], key: str, path: str
    ) -> tuple[int, Any]:
        try:
            page = int(q.get("page", "1"))
            limit = int(q.get("limit", "50"))
        except ValueError:
            raise validation(("InvalidType", "page", "page and limit are integers")) from None
        if limit > 250:
            raise problem(422, "Unprocessable Entity", "Limit 250 per page")
        if page < 1 or limit < 1:
            raise validation(("InvalidValue", "page", "page and limit start at 1"))
        chunk = items[(page - 1) * limit : page * limit]
        if not chunk:
            return 204, None
        links: dict[str, Any] = {
            "self": {"href": f"{self.base_url}{path}?page={page}&limit={limit}"}
        }
        if page * limit < len(items):
            links["next"] = {"href": f"{self.base_url}{path}?page={page + 1}&limit={limit}"}
        return 200, {"_page": page, "_links": links, "_embedded": {key: chunk}}

    # -- custom fields ------------------------------------------------------------------------

    def _new_enum_id(self) -> int:
        self._enum_ids += self.rng.randint(1, 9)
        return self._enum_ids

    def _check_enums(self, enums: Any, request_id: str) -> list[dict[str, Any]]:
        if not isinstance(enums, list):
            raise validation(("InvalidType", "enums", "array expected"), request_id=request_id)
        seen: set[str] = set()
        for i, e in enumerate(enums):
            if (
                not isinstance(e, dict)
                or not isinstance(e.get("value"), str)
                or not e["value"].strip()
            ):
                raise validation(
                    ("InvalidValue", f"enums.{i}.value", "value is required"), request_id=request_id
                )
            if "sort" in e and not _is_int(e["sort"]):
                raise validation(("InvalidType", f"enums.{i}.sort", "int"), request_id=request_id)
            if e["value"] in seen:
                raise validation(
                    ("DuplicateValue", f"enums.{i}.value", "enum values must be unique"),
                    request_id=request_id,
                )
            seen.add(e["value"])
        return enums

    def _create_field(
        self, account: FakeAccount, item: Any, request_id: str = "0"
    ) -> dict[str, Any]:
        allowed = {
            "name",
            "type",
            "code",
            "sort",
            "is_api_only",
            "enums",
            "group_id",
            "required_statuses",
            "settings",
            "remind",
            "request_id",
        }
        if not isinstance(item, dict) or set(item) - allowed:
            raise validation(
                (
                    "UnknownField",
                    "",
                    "unexpected keys",
                ),
                request_id=request_id,
            )
        name, type_ = item.get("name"), item.get("type")
        if not isinstance(name, str) or not name.strip():
            raise validation(("NotBlank", "name", "name is required"), request_id=request_id)
        if type_ not in FIELD_TYPES:
            raise validation(("InvalidChoice", "type", "unknown field type"), request_id=request_id)
        code = item.get("code")
        if code is not None:
            if not isinstance(code, str) or not CODE_RE.match(code):
                raise validation(
                    ("InvalidValue", "code", "code must be A-Z, 0-9, _"), request_id=request_id
                )
            if any(f["code"] == code for f in account.fields.values()):
                raise validation(
                    ("AlreadyExists", "code", "code already used"), request_id=request_id
                )
        enums: Any = item.get("enums")
        if type_ in ENUM_TYPES:
            enums = self._check_enums(enums or [], request_id)
        elif enums:
            raise validation(
                ("InvalidValue", "enums", "only list fields have enums"), request_id=request_id
            )
        account.next_field_id += account.rng.randint(1, 17)
        stored = {
            "id": account.next_field_id,
            "name": name,
            "type": type_,
            "code": code,
            "sort": item.get("sort", 500),
            "is_api_only": bool(item.get("is_api_only", False)),
            "enums": [
                {
                    "id": self._new_enum_id(),
                    "value": e["value"],
                    "sort": e.get("sort", (i + 1) * 10),
                }
                for i, e in enumerate(enums)
            ]
            if type_ in ENUM_TYPES
            else None,
        }
        account.fields[stored["id"]] = stored
        return stored

    def _patch_field(
        self, account: FakeAccount, item: Any, field_id: int | None, request_id: str
    ) -> dict[str, Any]:
        allowed = {"id", "name", "sort", "enums", "code", "is_api_only", "request_id", "type"}
        if not isinstance(item, dict) or set(item) - allowed:
            raise validation(("UnknownField", "", "unexpected keys"), request_id=request_id)
        fid = field_id if field_id is not None else item.get("id")
        if not _is_int(fid) or fid not in account.fields:
            raise validation(("NotFound", "id", "field not found"), request_id=request_id)
        stored = account.fields[fid]
        if "type" in item and item["type"] != stored["type"]:
            raise validation(("InvalidValue", "type", "type cannot change"), request_id=request_id)
        if "name" in item:
            if not isinstance(item["name"], str) or not item["name"].strip():
                raise validation(("NotBlank", "name", "name is required"), request_id=request_id)
            stored["name"] = item["name"]
        if "sort" in item:
            stored["sort"] = item["sort"]
        if "enums" in item:
            if stored["type"] not in ENUM_TYPES:
                raise validation(
                    ("InvalidValue", "enums", "only list fields have enums"), request_id=request_id
                )
            enums = self._check_enums(item["enums"], request_id)
            existing = {e["id"]: e for e in stored["enums"] or []}
            new_list = []
            for i, e in enumerate(enums):
                if "id" in e and e["id"] not in existing:
                    raise validation(
                        (
                            "NotSupportedChoice",
                            f"enums.{i}.id",
                            "enum does not belong to the field",
                        ),
                        request_id=request_id,
                    )
                new_list.append(
                    {
                        "id": e["id"] if "id" in e else self._new_enum_id(),
                        "value": e["value"],
                        "sort": e.get("sort", (i + 1) * 10),
                    }
                )
            kept = {e["id"] for e in new_list}
            # The full list replaces the old one: missing options are deleted, and leads that
            # had them lose the value.
            for lead in account.leads.values():
                values = lead["cf"].get(fid)
                if values is not None:
                    values[:] = [v for v in values if v.get("enum_id") in kept]
                    if not values:
                        del lead["cf"][fid]
            stored["enums"] = new_list
        return stored

    def _render_field(self, account: FakeAccount, f: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": f["id"],
            "name": f["name"],
            "type": f["type"],
            "account_id": account.account_id,
            "code": f["code"],
            "sort": f["sort"],
            "is_api_only": f["is_api_only"],
            "enums": copy.deepcopy(f["enums"]),
            "group_id": None,
            "required_statuses": [],
            "is_deletable": True,
            "is_predefined": False,
            "entity_type": "leads",
            "remind": None,
            "_links": {"self": {"href": f"{self.base_url}/api/v4/leads/custom_fields/{f['id']}"}},
        }

    # -- leads ------------------------------------------------------------------------------

    def _render_lead(self, account: FakeAccount, lead: dict[str, Any]) -> dict[str, Any]:
        values: list[dict[str, Any]] = []
        for fid, stored_values in lead["cf"].items():
            f = account.fields.get(fid)
            if f is None:
                continue
            rendered = []
            for v in stored_values:
                if "enum_id" in v:
                    enum = next((e for e in f["enums"] or [] if e["id"] == v["enum_id"]), None)
                    if enum is not None:
                        rendered.append(
                            {"value": enum["value"], "enum_id": enum["id"], "enum_code": None}
                        )
                elif isinstance(v["value"], Decimal | int) and not isinstance(v["value"], bool):
                    rendered.append(
                        {
                            "value": format(v["value"], "f")
                            if isinstance(v["value"], Decimal)
                            else str(v["value"])
                        }
                    )
                else:
                    rendered.append({"value": v["value"]})
            if rendered:
                values.append(
                    {
                        "field_id": fid,
                        "field_name": f["name"],
                        "field_code": f["code"],
                        "field_type": f["type"],
                        "values": rendered,
                        "is_computed": False,
                    }
                )
        out = {k: v for k, v in lead.items() if k != "cf"}
        out["custom_fields_values"] = values or None
        out["_links"] = {"self": {"href": f"{self.base_url}/api/v4/leads/{lead['id']}"}}
        out["_embedded"] = {"tags": [], "companies": []}
        return copy.deepcopy(out)

    def _patch_lead(self, account: FakeAccount, item: Any, request_id: str) -> dict[str, Any]:
        allowed = {
            "id",
            "name",
            "price",
            "status_id",
            "pipeline_id",
            "responsible_user_id",
            "custom_fields_values",
            "request_id",
            "updated_by",
        }
        if not isinstance(item, dict) or set(item) - allowed:
            raise validation(("UnknownField", "", "unexpected keys"), request_id=request_id)
        lead_id = item.get("id")
        if not _is_int(lead_id) or lead_id not in account.leads:
            raise validation(("NotFound", "id", "lead not found"), request_id=request_id)
        lead = account.leads[lead_id]
        if "price" in item and (not _is_int(item["price"]) or item["price"] < 0):
            raise validation(
                ("InvalidType", "price", "This value should be of type int."), request_id=request_id
            )
        if "name" in item and not isinstance(item["name"], str):
            raise validation(("InvalidType", "name", "string expected"), request_id=request_id)
        updates: dict[int, list[dict[str, Any]] | None] = {}
        cfv = item.get("custom_fields_values")
        if cfv is not None:
            if not isinstance(cfv, list):
                raise validation(
                    ("InvalidType", "custom_fields_values", "array expected"), request_id=request_id
                )
            for i, entry in enumerate(cfv):
                fid, values = self._check_cf(
                    account, entry, f"custom_fields_values.{i}", request_id
                )
                updates[fid] = values
        if "status_id" in item or "pipeline_id" in item:
            if "pipeline_id" in item and "status_id" not in item:
                raise validation(
                    ("NotSupportedChoice", "status_id", "moving to a pipeline needs its status"),
                    request_id=request_id,
                )
            self._check_stage(
                account,
                item.get("pipeline_id", lead["pipeline_id"]),
                item["status_id"],
                request_id,
            )
        if "status_id" in item:
            pipeline = item.get("pipeline_id", lead["pipeline_id"])
            account.stage_moves.append((lead_id, pipeline, item["status_id"]))
        for key in ("name", "price", "status_id", "pipeline_id", "responsible_user_id"):
            if key in item:
                lead[key] = item[key]
        for fid, values in updates.items():
            if values is None:
                lead["cf"].pop(fid, None)
            else:
                lead["cf"][fid] = values
        lead["updated_at"] = int(time.time())
        return {
            "id": lead_id,
            "updated_at": lead["updated_at"],
            "_links": {"self": {"href": f"{self.base_url}/api/v4/leads/{lead_id}"}},
        }

    def _check_cf(
        self, account: FakeAccount, entry: Any, path: str, request_id: str
    ) -> tuple[int, list[dict[str, Any]] | None]:
        def bad(code: str, where: str, detail: str) -> ApiError:
            return validation((code, f"{path}.{where}", detail), request_id=request_id)

        if not isinstance(entry, dict):
            raise bad("InvalidType", "", "object expected")
        f = None
        if "field_id" in entry:
            f = account.fields.get(entry["field_id"]) if _is_int(entry["field_id"]) else None
        elif isinstance(entry.get("field_code"), str):
            f = next((x for x in account.fields.values() if x["code"] == entry["field_code"]), None)
        if f is None:
            raise bad("NotSupportedChoice", "field_id", "field not found")
        values = entry.get("values")
        if values is None:
            return f["id"], None
        if not isinstance(values, list) or not values:
            raise bad("InvalidType", "values", "array expected")
        if f["type"] in ("select", "radiobutton") and len(values) != 1:
            raise bad("InvalidValue", "values", "exactly one value")
        out: list[dict[str, Any]] = []
        for j, v in enumerate(values):
            where = f"values.{j}"
            if not isinstance(v, dict):
                raise bad("InvalidType", where, "object expected")
            if f["type"] in ENUM_TYPES:
                enums = f["enums"] or []
                enum = None
                if "enum_id" in v:
                    enum = next(
                        (e for e in enums if _is_int(v["enum_id"]) and e["id"] == v["enum_id"]),
                        None,
                    )
                elif isinstance(v.get("value"), str):
                    enum = next((e for e in enums if e["value"] == v["value"]), None)
                if enum is None:
                    raise bad(
                        "NotSupportedChoice", where, "The value you selected is not a valid choice."
                    )
                out.append({"enum_id": enum["id"]})
                continue
            value = v.get("value")
            if f["type"] == "url":
                if (
                    not isinstance(value, str)
                    or not re.match(r"^https?://[^\s]+$", value)
                    or len(value) > 2048
                ):
                    raise bad("InvalidUrl", where, "This value is not a valid URL.")
            elif f["type"] in ("numeric", "price", "monetary"):
                if not (_is_int(value) or isinstance(value, Decimal)):
                    raise bad("InvalidType", where, "This value should be of type numeric.")
            elif f["type"] in ("text", "textarea"):
                if not isinstance(value, str):
                    raise bad("InvalidType", where, "string expected")
            elif f["type"] == "checkbox" and not isinstance(value, bool):
                raise bad("InvalidType", where, "bool expected")
            out.append({"value": value})
        return f["id"], out

    # -- notes --------------------------------------------------------------------------------

    def _add_notes(self, account: FakeAccount, items: list[Any]) -> dict[str, Any]:
        checked = []
        for i, item in enumerate(items):
            rid = str(i)
            if not isinstance(item, dict):
                raise validation(("InvalidType", "", "object expected"), request_id=rid)
            if item.get("entity_id") not in account.leads:
                raise validation(("NotFound", "entity_id", "entity not found"), request_id=rid)
            if item.get("note_type") not in NOTE_TYPES:
                raise validation(
                    ("InvalidChoice", "note_type", "unknown note type"), request_id=rid
                )
            params = item.get("params")
            if not isinstance(params, dict) or (
                item["note_type"] == "common" and not isinstance(params.get("text"), str)
            ):
                raise validation(("NotBlank", "params.text", "text is required"), request_id=rid)
            checked.append(item)
        created = []
        for i, item in enumerate(checked):
            self._note_ids += self.rng.randint(1, 5)
            now = int(time.time())
            note = {
                "id": self._note_ids,
                "entity_id": item["entity_id"],
                "created_by": account.user_id,
                "updated_by": account.user_id,
                "created_at": now,
                "updated_at": now,
                "responsible_user_id": account.user_id,
                "group_id": 0,
                "note_type": item["note_type"],
                "params": copy.deepcopy(item["params"]),
                "account_id": account.account_id,
            }
            account.notes.setdefault(item["entity_id"], []).append(note)
            created.append(
                {
                    "id": note["id"],
                    "entity_id": note["entity_id"],
                    "request_id": str(i),
                    "_links": {
                        "self": {"href": f"{self.base_url}/api/v4/leads/notes/{note['id']}"}
                    },
                }
            )
        return {"_total_items": len(created), "_embedded": {"notes": created}}

    def _list_notes(
        self, account: FakeAccount, q: dict[str, str], path: str, lead_id: int | None
    ) -> tuple[int, Any]:
        if lead_id is not None and lead_id not in account.leads:
            raise problem(404, "Not Found")
        notes = [n for lid, ns in account.notes.items() if lead_id in (None, lid) for n in ns]
        wanted_type = q.get("filter[note_type]") or q.get("filter[note_type][0]")
        if wanted_type:
            notes = [n for n in notes if n["note_type"] == wanted_type]
        order = q.get("order[id]") or q.get("order[updated_at]")
        if order not in (None, "asc", "desc"):
            raise validation(("InvalidChoice", "order", "asc or desc"))
        notes.sort(key=lambda n: n["id"], reverse=order == "desc")
        return self._list(q, copy.deepcopy(notes), "notes", path)

    # -- webhooks -------------------------------------------------------------------------------

    def _webhooks(
        self, account: FakeAccount, method: str, q: dict[str, str], data: Any
    ) -> tuple[int, Any]:
        if method == "GET":
            hooks = list(account.webhooks.values())
            if "filter[destination]" in q:
                hooks = [h for h in hooks if h["destination"] == q["filter[destination]"]]
            if not hooks:
                return 204, None
            return 200, {
                "_total_items": len(hooks),
                "_embedded": {"webhooks": copy.deepcopy(hooks)},
            }
        if method == "POST":
            if not isinstance(data, dict):
                raise validation(("InvalidType", "", "object expected"))
            destination, settings = data.get("destination"), data.get("settings")
            if not isinstance(destination, str) or not re.match(r"^https?://\S+$", destination):
                raise validation(("InvalidUrl", "destination", "a URL is required"))
            if (
                not isinstance(settings, list)
                or not settings
                or any(s not in WEBHOOK_EVENTS for s in settings)
            ):
                raise validation(("InvalidChoice", "settings", "unknown event"))
            if destination not in account.webhooks and len(account.webhooks) >= 100:
                raise validation(("TooManyWebhooks", "destination", "100 webhooks per account"))
            now = int(time.time())
            hook = account.webhooks.get(destination) or {
                "id": account.rng.randint(1_000, 999_999),
                "destination": destination,
                "created_by": account.user_id,
                "created_at": now,
                "account_id": account.account_id,
            }
            hook.update(
                {
                    "settings": list(settings),
                    "sort": data.get("sort", 1),
                    "disabled": False,
                    "updated_at": now,
                }
            )
            account.webhooks[destination] = hook
            return 200, copy.deepcopy(hook)
        if method == "DELETE":
            destination = data.get("destination") if isinstance(data, dict) else None
            if destination not in account.webhooks:
                raise problem(404, "Not Found")
            del account.webhooks[destination]
            return 204, None
        raise problem(405, "Method Not Allowed")


class _Handler(FakeHandler):
    fake: FakeAmoCrm

    def _serve(self) -> None:
        at = time.monotonic()
        headers, body = self.read_request()
        status, payload, content_type, account_id = self.fake.handle(
            self.command, self.path, headers, body, at
        )
        self.fake.log(account_id, self.command, urlsplit(self.path).path, status, at)
        if payload is None:
            raw = b""
        elif isinstance(payload, str):
            raw = payload.encode()
        else:
            raw = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        if raw:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("X-Request-Id", uuid.uuid4().hex)
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

    def do_OPTIONS(self) -> None:
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()


FakeAmoCrm.handler_class = _Handler  # the handler is written below the fake it serves


def main() -> None:
    """Serve the fake for manual runs: ``python -m tests.fakes.amocrm --port 8765``.

    Prints the settings to use (AMOCRM_API_BASE_URL, client id/secret, a fresh code) as JSON.
    """
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--redirect-uri", default=DEFAULT_REDIRECT_URI)
    parser.add_argument("--subdomain", default="chezaquest")
    args = parser.parse_args()
    fake = FakeAmoCrm(port=args.port, redirect_uri=args.redirect_uri).start()
    account_id = fake.add_account(subdomain=args.subdomain)
    print(
        json.dumps(
            {
                "AMOCRM_API_BASE_URL": fake.base_url,
                "AMOCRM_CLIENT_ID": fake.client_id,
                "AMOCRM_CLIENT_SECRET": fake.client_secret,
                "redirect_uri": fake.redirect_uri,
                "account_id": account_id,
                "callback": f"{fake.redirect_uri}?code={fake.authorize(account_id)}"
                f"&referer={args.subdomain}.amocrm.ru&state=<state>",
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
