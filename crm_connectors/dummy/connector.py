"""``DummyCrmConnector``: leads kept in process memory, for local development and tests.

It behaves like a well-mannered CRM: stable ids, idempotent field set-up, notes with ids,
``CrmNotFound`` for unknown leads. Webhook bodies use amoCRM's form format so that the same
development tools drive both.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

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
    PipelineStage,
    StageMove,
)
from crm_connectors.errors import CrmNotFound, CrmValidationError

# One pipeline, the same in every dummy account, shaped like amoCRM's (inbox, stages, 142/143).
DUMMY_PIPELINE = Pipeline(
    pipeline_id="1",
    name="Воронка",
    sort=1,
    is_main=True,
    stages=(
        PipelineStage("10", "Неразобранное", 10, "unsorted"),
        PipelineStage("20", "Первичный контакт", 20),
        PipelineStage("30", "Предоплата получена", 30),
        PipelineStage("40", "Оплачено", 40),
        PipelineStage("142", "Успешно реализовано", 10000, "won"),
        PipelineStage("143", "Закрыто и не реализовано", 11000, "lost"),
    ),
)


@dataclass
class DummyLead:
    lead_id: int
    title: str
    price: Decimal
    location_key: str | None = None
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    state: DealStateUpdate | None = None
    notes: list[tuple[int, str]] = field(default_factory=list)
    stage_id: str = "20"
    # The lead's main contact (None: no contact linked).
    contact: BuyerContact | None = None


@dataclass
class DummyAccount:
    leads: dict[int, DummyLead] = field(default_factory=dict)
    location_options: dict[str, int] = field(default_factory=dict)
    option_labels: dict[int, str] = field(default_factory=dict)
    webhooks: set[str] = field(default_factory=set)


class DummyCrmStore:
    """Thread-safe accounts by id; one shared instance per process unless given one."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.accounts: dict[int, DummyAccount] = {}
        self._ids = itertools.count(1000)

    def next_id(self) -> int:
        return next(self._ids)

    def account(self, account_id: int) -> DummyAccount:
        with self.lock:
            return self.accounts.setdefault(account_id, DummyAccount())


DEFAULT_STORE = DummyCrmStore()
_FILE_STORES: dict[str, DummyCrmStore] = {}


def file_store(path: str) -> DummyCrmStore:
    """The process's one store over the JSON file at ``path`` (crm_connectors/dummy/store.py)."""
    with DEFAULT_STORE.lock:
        if path not in _FILE_STORES:
            from .store import FileCrmStore

            _FILE_STORES[path] = FileCrmStore(path)
        return _FILE_STORES[path]


_FIELD_IDS = {"location": 1, "prepayment_url": 2, "full_url": 3, "paid_sum": 4, "status": 5}
_STATUS_OPTIONS = {key: 100 + n for n, key in enumerate(PAYMENT_STATUS_LABELS)}


class DummyCrmConnector(CrmConnector):
    slug = "dummy"
    supports_pipelines = True

    def __init__(
        self,
        *,
        account: CrmAccountRef | None = None,
        account_id: int | None = None,
        store: DummyCrmStore | None = None,
        store_path: str = "",
        **_unused: object,
    ) -> None:
        # ``_unused`` takes the amoCRM-only options (tokens, limiter...) so that the core can
        # build either connector with the same call. ``store_path``: leads in that JSON file,
        # shared by every process (the demo's web and worker), instead of this process's memory.
        self.account_id = account_id or (account.account_id if account else 1)
        self.store = store or (file_store(store_path) if store_path else DEFAULT_STORE)

    def _account(self) -> DummyAccount:
        return self.store.account(self.account_id)

    def _lead(self, lead_id: int) -> DummyLead:
        lead = self._account().leads.get(lead_id)
        if lead is None:
            raise CrmNotFound(f"lead {lead_id} not found")
        return lead

    # -- development helpers ------------------------------------------------------------

    def seed_lead(
        self,
        lead_id: int,
        *,
        title: str,
        price: Decimal,
        location_key: str | None = None,
        contact: BuyerContact | None = None,
    ) -> DummyLead:
        with self.store.lock:
            lead = DummyLead(lead_id, title, price, location_key, contact=contact)
            self._account().leads[lead_id] = lead
            return lead

    def lead(self, lead_id: int) -> DummyLead:
        with self.store.lock:
            return self._lead(lead_id)

    # -- CrmConnector ---------------------------------------------------------------------

    def read_lead(self, lead_id: int, fields: FieldMap) -> LeadSnapshot:
        with self.store.lock:
            lead = self._lead(lead_id)
            option = fields.location_options.get(lead.location_key or "")
            label = self._account().option_labels.get(option) if option else None
            return LeadSnapshot(
                lead_id=lead.lead_id,
                title=lead.title,
                price=lead.price,
                location_key=lead.location_key if option else None,
                location_label=label,
                updated_at=lead.updated_at,
                pipeline_id=DUMMY_PIPELINE.pipeline_id,
                stage_id=lead.stage_id,
            )

    def read_lead_contact(self, lead_id: int) -> BuyerContact | None:
        with self.store.lock:
            return self._lead(lead_id).contact

    def read_pipelines(self) -> list[Pipeline]:
        return [DUMMY_PIPELINE]

    def read_pipeline(self, pipeline_id: str) -> Pipeline:
        if pipeline_id != DUMMY_PIPELINE.pipeline_id:
            raise CrmNotFound(f"pipeline {pipeline_id} not found")
        return DUMMY_PIPELINE

    def move_lead(self, move: StageMove) -> None:
        stage = DUMMY_PIPELINE.stage(move.stage_id)
        if move.pipeline_id != DUMMY_PIPELINE.pipeline_id or stage is None:
            raise CrmValidationError("no such stage in the pipeline", code="bad_stage")
        if stage.kind == "unsorted":
            raise CrmValidationError("a lead cannot be moved into unsorted", code="bad_stage")
        with self.store.lock:
            lead = self._lead(move.lead_id)
            lead.stage_id = stage.stage_id
            lead.updated_at = datetime.now(UTC)

    def write_deal_state(self, update: DealStateUpdate, fields: FieldMap) -> None:
        labels = set(PAYMENT_STATUS_LABELS) | set(PAYMENT_STATUS_LABELS.values())
        if update.status_label not in labels:
            raise CrmValidationError(f"unknown payment status {update.status_label!r}")
        with self.store.lock:
            lead = self._lead(update.lead_id)
            lead.state = update
            lead.updated_at = datetime.now(UTC)

    def add_note(self, lead_id: int, text: str) -> int:
        with self.store.lock:
            lead = self._lead(lead_id)
            note_id = self.store.next_id()
            lead.notes.append((note_id, text))
            return note_id

    def find_note(self, lead_id: int, marker: str) -> int | None:
        with self.store.lock:
            for note_id, text in reversed(self._lead(lead_id).notes):
                if marker in text:
                    return note_id
            return None

    def ensure_fields(
        self, locations: Sequence[LocationOption], existing: FieldMap | None
    ) -> FieldMap:
        with self.store.lock:
            account = self._account()
            for location in locations:
                option = account.location_options.get(location.key)
                if option is None and not location.active:
                    continue  # an inactive location without an option gets none
                if option is None:
                    option = account.location_options[location.key] = self.store.next_id()
                suffix = "" if location.active else " (неактивна)"
                account.option_labels[option] = location.name + suffix
            return FieldMap(
                location_field_id=_FIELD_IDS["location"],
                location_options=dict(account.location_options),
                prepayment_url_field_id=_FIELD_IDS["prepayment_url"],
                full_url_field_id=_FIELD_IDS["full_url"],
                paid_sum_field_id=_FIELD_IDS["paid_sum"],
                status_field_id=_FIELD_IDS["status"],
                status_options=_STATUS_OPTIONS,
            )

    def subscribe_webhook(self, destination_url: str) -> None:
        with self.store.lock:
            self._account().webhooks.add(destination_url)

    @classmethod
    def parse_webhook(cls, payload: Mapping[str, Any] | bytes | str) -> list[LeadEvent]:
        return parse_lead_events(payload)
