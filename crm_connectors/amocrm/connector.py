"""``AmoCrmConnector``: the platform's needs expressed as amoCRM API v4 calls."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from crm_connectors.amocrm.client import AmoClient, AmoClientOptions
from crm_connectors.amocrm.consts import DEFAULT_WEBHOOK_EVENTS, NOTE_TYPE_COMMON, SLUG
from crm_connectors.amocrm.contacts import buyer_contact_from_api, main_contact_id
from crm_connectors.amocrm.fields import FieldOptions, FieldSynchronizer
from crm_connectors.amocrm.pipelines import PIPELINES_PATH, pipeline_from_api, pipelines_from_api
from crm_connectors.amocrm.webhooks import parse_lead_events
from crm_connectors.base import (
    PAYMENT_STATUS_LABELS,
    BuyerContact,
    CrmAccountRef,
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
from crm_connectors.errors import CrmError, CrmNotFound, CrmUnavailable, CrmValidationError

logger = logging.getLogger(__name__)

_STATUS_KEY_BY_LABEL = {label: key for key, label in PAYMENT_STATUS_LABELS.items()}


def _lead_price(raw: object) -> Decimal:
    # amoCRM prices are whole rubles (int); Kommo may send minor units (parsed as Decimal).
    if raw is None:
        return Decimal(0)
    if isinstance(raw, bool) or not isinstance(raw, int | Decimal):
        raise CrmError("amoCRM returned a lead price that is not a number", code="bad_response")
    return Decimal(raw)


def _url_value(field_id: int, url: str | None) -> dict[str, Any]:
    if url is None:
        return {"field_id": field_id, "values": None}  # clears the field (§2.1)
    if not url.startswith(("https://", "http://")):
        raise CrmValidationError("a payment link must be an http(s) URL", code="bad_url")
    return {"field_id": field_id, "values": [{"value": url}]}


def _amo_id(value: str, what: str) -> int:
    text = str(value).strip()
    if not text.isdigit() or not 0 < int(text) < 2**63:
        raise CrmValidationError(f"{what} must be a positive amoCRM id", code="bad_id")
    return int(text)


class AmoCrmConnector(CrmConnector):
    slug = SLUG
    supports_pipelines = True

    def __init__(
        self,
        *,
        account: CrmAccountRef,
        token_store: TokenStore,
        limiter: RateLimiter,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        http: httpx.Client | None = None,
        timeout: float = 10.0,
        client_options: AmoClientOptions | None = None,
        field_options: FieldOptions | None = None,
        webhook_events: Sequence[str] = DEFAULT_WEBHOOK_EVENTS,
        note_search_pages: int = 2,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        extra: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self.client = AmoClient(
            account,
            token_store,
            limiter,
            client_id,
            client_secret,
            redirect_uri,
            http,
            timeout,
            options=client_options,
            **extra,
        )
        self.field_options = field_options or FieldOptions()
        self.webhook_events = tuple(webhook_events)
        self.note_search_pages = note_search_pages

    def __repr__(self) -> str:
        return f"AmoCrmConnector(account_id={self.client.account.account_id})"

    def read_lead(self, lead_id: int, fields: FieldMap) -> LeadSnapshot:
        data = self.client.get(f"/api/v4/leads/{int(lead_id)}")
        if not isinstance(data, dict) or data.get("is_deleted") is True:
            raise CrmNotFound(f"lead {lead_id} not found", status=204)
        location_key: str | None = None
        location_label: str | None = None
        values = data.get("custom_fields_values") or []  # null when empty (§7.16)
        service_date = _service_date(values, fields.service_date_field_id)
        for item in values if isinstance(values, list) else []:
            if not isinstance(item, dict) or item.get("field_id") != fields.location_field_id:
                continue
            chosen = item.get("values")
            first = chosen[0] if isinstance(chosen, list) and chosen else None
            if isinstance(first, dict):
                enum_id = first.get("enum_id")
                location_key = (
                    fields.location_key_for(enum_id) if isinstance(enum_id, int) else None
                )
                label = first.get("value")
                location_label = label if isinstance(label, str) else None
        updated = data.get("updated_at")
        pipeline_id, status_id = data.get("pipeline_id"), data.get("status_id")
        return LeadSnapshot(
            lead_id=int(data.get("id", lead_id)),
            title=str(data.get("name") or ""),
            price=_lead_price(data.get("price")),
            location_key=location_key,
            location_label=location_label,
            updated_at=datetime.fromtimestamp(updated, UTC) if isinstance(updated, int) else None,
            pipeline_id=str(pipeline_id) if isinstance(pipeline_id, int) else "",
            stage_id=str(status_id) if isinstance(status_id, int) else "",
            service_date=service_date,
        )

    def read_lead_contact(self, lead_id: int) -> BuyerContact | None:
        # Two calls: the lead's links to its contacts, then the main contact's fields (§2.1).
        lead = self.client.get(f"/api/v4/leads/{int(lead_id)}", {"with": "contacts"})
        if not isinstance(lead, dict) or lead.get("is_deleted") is True:
            raise CrmNotFound(f"lead {lead_id} not found", status=204)
        contact_id = main_contact_id(lead)
        if contact_id is None:
            return None
        try:
            contact = self.client.get(f"/api/v4/contacts/{contact_id}")
        except CrmNotFound:
            return None  # linked, but deleted since
        if not isinstance(contact, dict) or contact.get("is_deleted") is True:
            return None  # linked, but deleted since: no contact to read
        return buyer_contact_from_api(contact)

    def read_pipelines(self) -> list[Pipeline]:
        # Not paginated (≤ 50 pipelines per account, §2.8), statuses embedded.
        return pipelines_from_api(self.client.get(PIPELINES_PATH))

    def read_pipeline(self, pipeline_id: str) -> Pipeline:
        data = self.client.get(f"{PIPELINES_PATH}/{_amo_id(pipeline_id, 'pipeline id')}")
        if data is None:
            raise CrmNotFound(f"pipeline {pipeline_id} not found", status=204)
        return pipeline_from_api(data)

    def move_lead(self, move: StageMove) -> None:
        body = {
            "status_id": _amo_id(move.stage_id, "stage id"),
            "pipeline_id": _amo_id(move.pipeline_id, "pipeline id"),
        }
        self.client.patch(f"/api/v4/leads/{int(move.lead_id)}", body)

    def _status_value(self, label: str, fields: FieldMap) -> dict[str, Any]:
        key = label if label in PAYMENT_STATUS_LABELS else _STATUS_KEY_BY_LABEL.get(label)
        if not fields.status_options:  # a text status field
            text = PAYMENT_STATUS_LABELS.get(key, label) if key else label
            return {"field_id": fields.status_field_id, "values": [{"value": text}]}
        enum_id = fields.status_options.get(key) if key else None
        if enum_id is None:
            raise CrmValidationError(f"unknown payment status {label!r}", code="bad_status")
        return {"field_id": fields.status_field_id, "values": [{"enum_id": enum_id}]}

    def write_deal_state(self, update: DealStateUpdate, fields: FieldMap) -> None:
        if update.paid_sum < 0:
            raise CrmValidationError("paid sum cannot be negative", code="bad_amount")
        values = [
            _url_value(fields.prepayment_url_field_id, update.prepayment_url),
            _url_value(fields.full_url_field_id, update.full_url),
            {"field_id": fields.paid_sum_field_id, "values": [{"value": update.paid_sum}]},
            self._status_value(update.status_label, fields),
        ]
        self.client.patch(f"/api/v4/leads/{int(update.lead_id)}", {"custom_fields_values": values})

    def add_note(self, lead_id: int, text: str) -> int:
        body = [{"note_type": NOTE_TYPE_COMMON, "params": {"text": text}}]
        data = self.client.post(f"/api/v4/leads/{int(lead_id)}/notes", body)
        embedded = data.get("_embedded") if isinstance(data, dict) else None
        notes = embedded.get("notes") if isinstance(embedded, dict) else None
        note = notes[0] if isinstance(notes, list) and notes else None
        if not isinstance(note, dict) or not isinstance(note.get("id"), int):
            # The note may well be stored: a later attempt looks for its marker first.
            raise CrmUnavailable("amoCRM did not return the note id", code="bad_response")
        return int(note["id"])

    def find_note(self, lead_id: int, marker: str) -> int | None:
        notes = self.client.iter_collection(
            f"/api/v4/leads/{int(lead_id)}/notes",
            "notes",
            {"filter[note_type]": NOTE_TYPE_COMMON, "order[id]": "desc"},
            max_pages=self.note_search_pages,
        )
        for note in notes:
            params = note.get("params")
            text = params.get("text") if isinstance(params, dict) else None
            if isinstance(text, str) and marker in text and isinstance(note.get("id"), int):
                return int(note["id"])
        return None

    def ensure_fields(
        self, locations: Sequence[LocationOption], existing: FieldMap | None
    ) -> FieldMap:
        return FieldSynchronizer(self.client, self.field_options).run(locations, existing)

    def subscribe_webhook(self, destination_url: str) -> None:
        # Listed unfiltered (at most 100 per account): a filter would put the destination, and
        # so its secret, into a URL that HTTP logging prints.
        data = self.client.get("/api/v4/webhooks")
        embedded = data.get("_embedded") if isinstance(data, dict) else None
        hooks = embedded.get("webhooks") if isinstance(embedded, dict) else None
        for hook in hooks if isinstance(hooks, list) else []:
            if (
                isinstance(hook, dict)
                and hook.get("destination") == destination_url
                and not hook.get("disabled")
                and set(self.webhook_events) <= set(hook.get("settings") or [])
            ):
                return
        # Posting the same destination again re-enables a hook amoCRM disabled (§3.3).
        self.client.post(
            "/api/v4/webhooks",
            {"destination": destination_url, "settings": list(self.webhook_events), "sort": 10},
        )
        # The destination carries the per-account secret: it is not logged.
        logger.info("amoCRM account %s: webhook subscribed", self.client.account.account_id)

    @classmethod
    def parse_webhook(cls, payload: Mapping[str, Any] | bytes | str) -> list[LeadEvent]:
        return parse_lead_events(payload)


def _service_date(values: object, field_id: int | None) -> datetime | None:
    """A date / date_time field's value: a Unix timestamp (amoCRM sends an int, some accounts
    a digit string). None when unmapped, empty or unreadable."""
    if field_id is None or not isinstance(values, list):
        return None
    for item in values:
        if not isinstance(item, dict) or item.get("field_id") != field_id:
            continue
        chosen = item.get("values")
        first = chosen[0] if isinstance(chosen, list) and chosen else None
        raw = first.get("value") if isinstance(first, dict) else None
        if isinstance(raw, str) and raw.isascii() and raw.isdigit():
            raw = int(raw)
        if isinstance(raw, int) and not isinstance(raw, bool) and 0 < raw < 32_503_680_000:
            return datetime.fromtimestamp(raw, UTC)
    return None
