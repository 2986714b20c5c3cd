"""``Bitrix24Connector``: the platform's needs expressed as Bitrix24 REST calls (spec §4, §6).

Adaptations to the amoCRM-shaped interface (see the report / issue 17 item 1):
- the portal is ``Bitrix24Portal`` (string ``member_id`` + stored ``client_endpoint``), not a
  ``CrmAccountRef`` with an integer account id;
- ``FieldMap`` integers are the user fields' numeric ``ID``s and enumeration option ``ID``s; the
  ``UF_CRM_*`` codes used on deals are fixed by ``FieldOptions`` (our own names);
- ``LeadEvent.account_id`` is 0 (``PortalLeadEvent.member_id`` names the portal); events must be
  verified with ``verify_event`` against the ``application_token`` saved at install.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from crm_connectors.base import (
    PAYMENT_STATUS_LABELS,
    CatchUpBatch,
    CrmConnector,
    DealStateUpdate,
    FieldMap,
    LeadEvent,
    LeadSnapshot,
    LocationOption,
    Pipeline,
    RateLimiter,
    StageMove,
    TokenStore,
)
from crm_connectors.bitrix24 import oauth
from crm_connectors.bitrix24.client import Bitrix24Client, Bitrix24ClientOptions, Bitrix24Portal
from crm_connectors.bitrix24.consts import (
    ALREADY_BOUND_TEXT,
    DEAL_ENTITY_TYPE_ID,
    DEFAULT_EVENTS,
    PAGE_SIZE,
    SLUG,
)
from crm_connectors.bitrix24.fields import (
    ROLE_FULL_URL,
    ROLE_LOCATION,
    ROLE_PAID_SUM,
    ROLE_PREPAYMENT_URL,
    ROLE_STATUS,
    FieldOptions,
    FieldSynchronizer,
)
from crm_connectors.bitrix24.pipelines import (
    categories_of,
    pipeline_of,
    stage_entity_id,
)
from crm_connectors.bitrix24.webhooks import (
    OfflineBatch,
    deal_id_of,
    lead_events_of,
    offline_batch,
    parse_event,
    parse_lead_events,
    verify_event,
)
from crm_connectors.errors import CrmError, CrmNotFound, CrmUnavailable, CrmValidationError
from crm_connectors.http import shared_http_client

logger = logging.getLogger(__name__)

_STATUS_KEY_BY_LABEL = {label: key for key, label in PAYMENT_STATUS_LABELS.items()}
_STAGE_ID = re.compile(r"^[A-Z0-9_:]{1,50}$")
# The reservation's name in the offline queue (§6.5): ours, so kept to letters and digits.
PROCESS_ID_RE = re.compile(r"[A-Za-z0-9]{1,32}")


def _decimal(raw: object, what: str) -> Decimal:
    if raw is None or raw == "":
        return Decimal(0)
    if isinstance(raw, bool):
        raise CrmError(f"Bitrix24 returned a {what} that is not a number", code="bad_response")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise CrmError(
            f"Bitrix24 returned a {what} that is not a number", code="bad_response"
        ) from None
    if not value.is_finite():
        raise CrmError(f"Bitrix24 returned a {what} that is not a number", code="bad_response")
    return value


def _datetime(raw: object) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _url_value(url: str | None) -> str:
    if url is None:
        return ""  # clears the field (§4.4)
    if not url.startswith(("https://", "http://")):
        raise CrmValidationError("a payment link must be an http(s) URL", code="bad_url")
    return url


def money_value(amount: Decimal, currency: str) -> str:
    """§4.4: ``"1500.00|RUB"``."""
    return f"{amount.quantize(Decimal('0.01')):f}|{currency}"


def _enum_option(value: object) -> int | None:
    if isinstance(value, list):  # a multiple field by mistake: its first value
        value = value[0] if value else None
    return deal_id_of(value) if isinstance(value, str | int) else None


class Bitrix24Connector(CrmConnector):
    slug = SLUG
    supports_pipelines = True

    def __init__(
        self,
        *,
        portal: Bitrix24Portal,
        token_store: TokenStore,
        limiter: RateLimiter,
        client_id: str,
        client_secret: str,
        server_endpoint: str | None = None,
        oauth_override: str | None = None,
        http: httpx.Client | None = None,
        timeout: float = 10.0,
        client_options: Bitrix24ClientOptions | None = None,
        api_base_url: str | None = None,
        field_options: FieldOptions | None = None,
        events: Sequence[str] = DEFAULT_EVENTS,
        offline_events: bool = True,
        note_search_pages: int = 2,
        on_moved: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        http_client = http if http is not None else shared_http_client()
        refresher = oauth.make_refresher(
            http_client,
            oauth.oauth_server(server_endpoint, override=oauth_override),
            client_id=client_id,
            client_secret=client_secret,
            member_id=portal.member_id,
            timeout=timeout,
        )
        extra: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        if api_base_url:
            # Every portal's calls to this origin (tests, local development; see the options).
            client_options = dataclasses.replace(
                client_options or Bitrix24ClientOptions(), api_base_url=api_base_url
            )
        self.client = Bitrix24Client(
            portal,
            token_store,
            limiter,
            refresher,
            http_client,
            timeout,
            options=client_options,
            on_moved=on_moved,
            **extra,
        )
        self.field_options = field_options or FieldOptions()
        self.events = tuple(e.upper() for e in events)
        self.offline_events = offline_events
        self.note_search_pages = note_search_pages
        self._codes: dict[int, str] = {}

    def __repr__(self) -> str:
        return f"Bitrix24Connector(member_id={self.client.portal.member_id!r})"

    def _code(self, role: str) -> str:
        return self.field_options.code(role)

    # -- deals --------------------------------------------------------------------------------

    def read_lead(self, lead_id: int, fields: FieldMap) -> LeadSnapshot:
        data = self.client.call("crm.deal.get", {"id": int(lead_id)}).result
        if not isinstance(data, dict) or deal_id_of(data.get("ID")) is None:
            raise CrmUnavailable(
                "Bitrix24 answered a deal in an unknown shape", code="bad_response"
            )
        option_id = _enum_option(data.get(self._code(ROLE_LOCATION)))
        location_key = fields.location_key_for(option_id) if option_id is not None else None
        category = data.get("CATEGORY_ID")
        stage = data.get("STAGE_ID")
        return LeadSnapshot(
            lead_id=int(str(data["ID"])),
            title=str(data.get("TITLE") or ""),
            price=_decimal(data.get("OPPORTUNITY"), "deal amount"),
            location_key=location_key,
            # Bitrix24 returns the option id only; its text would cost a userfield call.
            location_label=None,
            updated_at=_datetime(data.get("DATE_MODIFY")),
            pipeline_id=str(category) if isinstance(category, str | int) else "",
            stage_id=stage if isinstance(stage, str) else "",
            service_date=self._service_date(data, fields.service_date_field_id),
        )

    def _service_date(self, deal: Mapping[str, Any], field_id: int | None) -> datetime | None:
        if field_id is None:
            return None
        code = self._codes.get(field_id)
        if code is None:
            result = self.client.call("crm.deal.userfield.get", {"id": int(field_id)}).result
            name = result.get("FIELD_NAME") if isinstance(result, dict) else None
            if not isinstance(name, str):
                return None
            code = self._codes[field_id] = name
        return _datetime(deal.get(code))

    def _status_value(self, label: str, fields: FieldMap) -> str:
        key = label if label in PAYMENT_STATUS_LABELS else _STATUS_KEY_BY_LABEL.get(label)
        if not fields.status_options:
            return PAYMENT_STATUS_LABELS.get(key, label) if key else label
        option_id = fields.status_options.get(key) if key else None
        if option_id is None:
            raise CrmValidationError(f"unknown payment status {label!r}", code="bad_status")
        return str(option_id)

    def write_deal_state(self, update: DealStateUpdate, fields: FieldMap) -> None:
        if update.paid_sum < 0:
            raise CrmValidationError("paid sum cannot be negative", code="bad_amount")
        values = {
            self._code(ROLE_PREPAYMENT_URL): _url_value(update.prepayment_url),
            self._code(ROLE_FULL_URL): _url_value(update.full_url),
            self._code(ROLE_PAID_SUM): money_value(update.paid_sum, self.field_options.currency),
            self._code(ROLE_STATUS): self._status_value(update.status_label, fields),
        }
        item = self._update_item(update.lead_id, values)
        # Unknown fields are silently ignored (§4.2): a field deleted by hand shows up as a key
        # missing from the answer, and the core re-runs ensure_fields. Whether the answer lists
        # empty fields is not documented, so a missing key is confirmed before it counts.
        missing = [code for code in values if code not in item]
        gone = sorted(set(missing) - self._existing_codes()) if missing else []
        if gone:
            raise CrmValidationError(
                "Bitrix24 deal fields are gone: " + ", ".join(gone),
                errors=tuple(gone),
                code="field_gone",
            )

    def _existing_codes(self) -> set[str]:
        return {
            str(item.get("FIELD_NAME"))
            for item in self.client.iter_list("crm.deal.userfield.list", {"order": {"ID": "ASC"}})
        }

    def _update_item(self, deal_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        answer = self.client.call(
            "crm.item.update",
            {
                "entityTypeId": DEAL_ENTITY_TYPE_ID,
                "id": int(deal_id),
                "useOriginalUfNames": "Y",
                "fields": dict(fields),
            },
        )
        item = answer.result.get("item") if isinstance(answer.result, dict) else None
        if not isinstance(item, dict):
            raise CrmUnavailable(
                "Bitrix24 answered an update without the item", code="bad_response"
            )
        return item

    # -- notes (timeline comments) -------------------------------------------------------------

    def add_note(self, lead_id: int, text: str) -> int:
        answer = self.client.call(
            "crm.timeline.comment.add",
            {"fields": {"ENTITY_ID": int(lead_id), "ENTITY_TYPE": "deal", "COMMENT": text}},
        )
        comment_id = deal_id_of(answer.result)
        if comment_id is None:
            raise CrmUnavailable("Bitrix24 did not return the comment id", code="bad_response")
        return comment_id

    def find_note(self, lead_id: int, marker: str) -> int | None:
        comments = self.client.iter_list(
            "crm.timeline.comment.list",
            {
                "filter": {"ENTITY_ID": int(lead_id), "ENTITY_TYPE": "deal"},
                "select": ["ID", "COMMENT"],
                "order": {"ID": "DESC"},
            },
            max_pages=self.note_search_pages,
        )
        for comment in comments:
            text = comment.get("COMMENT")
            comment_id = deal_id_of(comment.get("ID"))
            if isinstance(text, str) and marker in text and comment_id is not None:
                return comment_id
        return None

    # -- fields, pipelines --------------------------------------------------------------------

    def ensure_fields(
        self, locations: Sequence[LocationOption], existing: FieldMap | None
    ) -> FieldMap:
        return FieldSynchronizer(self.client, self.field_options).run(locations, existing)

    def _stages(self, pipeline_id: str) -> list[dict[str, Any]]:
        return list(
            self.client.iter_list(
                "crm.status.list",
                {"filter": {"ENTITY_ID": stage_entity_id(pipeline_id)}, "order": {"SORT": "ASC"}},
            )
        )

    def read_pipelines(self) -> list[Pipeline]:
        answer = self.client.call("crm.category.list", {"entityTypeId": DEAL_ENTITY_TYPE_ID})
        pipelines = [pipeline_of(c, self._stages(c[0])) for c in categories_of(answer.result)]
        return sorted(pipelines, key=lambda p: (p.sort, int(p.pipeline_id)))

    def read_pipeline(self, pipeline_id: str) -> Pipeline:
        wanted = str(pipeline_id).strip()
        answer = self.client.call("crm.category.list", {"entityTypeId": DEAL_ENTITY_TYPE_ID})
        for category in categories_of(answer.result):
            if category[0] == wanted:
                return pipeline_of(category, self._stages(wanted))
        raise CrmNotFound(f"pipeline {pipeline_id} not found")

    def move_lead(self, move: StageMove) -> None:
        pipeline = str(move.pipeline_id).strip()
        if not pipeline.isdigit() or not _STAGE_ID.fullmatch(move.stage_id):
            raise CrmValidationError("not a Bitrix24 pipeline and stage", code="bad_id")
        # crm.item.update moves across pipelines too (crm.deal.update ignores a foreign stage).
        self._update_item(move.lead_id, {"categoryId": int(pipeline), "stageId": move.stage_id})

    # -- events -------------------------------------------------------------------------------

    def _bind(self, params: Mapping[str, Any]) -> None:
        try:
            self.client.call("event.bind", params)
        except CrmValidationError as exc:
            # §6.1: binding twice answers "Handler already binded": already done.
            if ALREADY_BOUND_TEXT not in exc.message.lower():
                raise

    def subscribe_webhook(self, destination_url: str) -> None:
        """Bind the deal events to ``destination_url`` (online) and, when ``offline_events``,
        to the offline queue drained by ``drain_offline_events``. Idempotent."""
        bound = self.client.call("event.get", {}).result
        have = {
            (str(item.get("event", "")).upper(), str(item.get("handler", "")))
            for item in (bound if isinstance(bound, list) else [])
            if isinstance(item, dict)
        }
        for event in self.events:
            if (event, destination_url) not in have:
                self._bind({"event": event, "handler": destination_url})
            if self.offline_events and (event, "") not in have:
                self._bind({"event": event, "event_type": "offline"})
        logger.info("Bitrix24 portal %s: events bound", self.client.portal.member_id)

    def bind_uninstall(self, destination_url: str) -> None:
        """§2.4: ``ONAPPUNINSTALL`` is posted only when bound."""
        self._bind({"event": "ONAPPUNINSTALL", "handler": destination_url})

    def subscribe_uninstall(self, destination_url: str) -> None:
        self.bind_uninstall(destination_url)

    def catch_up_events(self) -> list[LeadEvent]:
        batch = self.drain_offline_events()
        if batch.unreadable:
            logger.warning(
                "Bitrix24 portal %s: %d offline records named no deal",
                self.client.portal.member_id,
                batch.unreadable,
            )
        return list(batch.events)

    def drain_offline_events(self, *, max_batches: int = 20) -> OfflineBatch:
        """§6.5: take (and clear) the offline queue, up to ``max_batches`` × 50 records. Each
        record names a deal changed while we were away; the caller re-reads those deals."""
        events: list[LeadEvent] = []
        unreadable = fetched = 0
        process_id = ""
        for _ in range(max_batches):
            answer = self.client.call(
                "event.offline.get", {"clear": 1, "limit": PAGE_SIZE}, repeatable=False
            )
            batch = offline_batch(answer.result, self.client.portal.member_id)
            known = {(e.kind, e.lead_id) for e in events}
            events.extend(e for e in batch.events if (e.kind, e.lead_id) not in known)
            unreadable += batch.unreadable
            fetched += batch.fetched
            process_id = batch.process_id or process_id
            if batch.fetched < PAGE_SIZE:
                break
        return OfflineBatch(tuple(events), unreadable, process_id, fetched)

    def catch_up_reserve(self, *, process_id: str) -> CatchUpBatch:
        """§6.5 safe mode: ``clear=0`` reserves up to a page of records under ``process_id``;
        the same id gets them again (a crashed drain loses nothing) until they are cleared."""
        if not PROCESS_ID_RE.fullmatch(process_id):
            raise ValueError("process_id: 1-32 letters and digits")
        answer = self.client.call(
            "event.offline.get",
            {"clear": 0, "process_id": process_id, "limit": PAGE_SIZE},
            # Safe to send again: the same process id is handed the same records.
            repeatable=True,
        )
        batch = offline_batch(answer.result, self.client.portal.member_id)
        if batch.unreadable:
            logger.warning(
                "Bitrix24 portal %s: %d offline records named no deal",
                self.client.portal.member_id,
                batch.unreadable,
            )
        return CatchUpBatch(
            events=batch.events,
            process_id=process_id,
            record_ids=batch.record_ids,
            full=batch.fetched >= PAGE_SIZE,
        )

    def catch_up_acknowledge(self, batch: CatchUpBatch) -> None:
        """``event.offline.clear`` of exactly the batch's records: a record the portal wrote
        since (a newer change of the same deal) stays for the next drain."""
        if not batch.record_ids:
            return
        self.client.call(
            "event.offline.clear",
            {"process_id": batch.process_id, "id": list(batch.record_ids)},
            repeatable=True,
        )

    def deals_changed_since(self, since: datetime, *, max_pages: int = 20) -> list[int]:
        """§6.5 fallback: ids of deals modified at or after ``since``."""
        items = self.client.iter_list(
            "crm.item.list",
            {
                "entityTypeId": DEAL_ENTITY_TYPE_ID,
                "select": ["id"],
                "filter": {">=updatedTime": since.astimezone(UTC).isoformat()},
                "order": {"id": "ASC"},
            },
            items_key="items",
            max_pages=max_pages,
        )
        return [i for i in (deal_id_of(item.get("id")) for item in items) if i is not None]

    @classmethod
    def parse_webhook(cls, payload: Mapping[str, Any] | bytes | str) -> list[LeadEvent]:
        """Deal events of the body **without** checking who sent it: call ``verified_events``
        with the stored ``application_token`` instead whenever it is known."""
        return parse_lead_events(payload)

    @staticmethod
    def verified_events(
        payload: Mapping[str, Any] | bytes | str, lookup: Callable[[str], str | None]
    ) -> list[LeadEvent]:
        """Deal events of a body whose ``auth[application_token]`` matches the token stored for
        its ``auth[member_id]`` (``lookup(member_id)``); ``[]`` otherwise. Never raises."""
        event = parse_event(payload)
        if event is None:
            return []
        stored = lookup(event.member_id)
        if stored is None or not verify_event(event, stored):
            logger.warning("Bitrix24 event for portal %s refused", event.member_id)
            return []
        return lead_events_of(event)
