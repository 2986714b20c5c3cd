"""The CRM connector contract: frozen dataclasses in and out, one small abstract class.

The core never sees vendor JSON or ORM objects here: it passes and receives these dataclasses,
money as ``Decimal``. Errors are the classes of ``crm_connectors.errors``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, Protocol

from crm_connectors.errors import CrmValidationError

LEAD_ADDED = "lead_added"
LEAD_UPDATED = "lead_updated"
LEAD_DELETED = "lead_deleted"
LEAD_STATUS = "lead_status"
LEAD_EVENT_KINDS = frozenset({LEAD_ADDED, LEAD_UPDATED, LEAD_DELETED, LEAD_STATUS})

# A deal's payment status (CONTRACT "deal.status") → the label written into the CRM.
PAYMENT_STATUS_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "open": "Не оплачено",
        "partially_paid": "Частично оплачено",
        "paid": "Оплачено",
        "overpaid": "Переплата",
        "partially_refunded": "Частичный возврат",
        "refunded": "Возврат",
    }
)


def _frozen_mapping(value: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class OAuthTokens:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime

    def __post_init__(self) -> None:
        if self.expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")

    def expires_within(self, seconds: float, *, now: datetime | None = None) -> bool:
        """True when the access token is expired or expires in less than ``seconds``."""
        moment = now or datetime.now(UTC)
        return self.expires_at - moment < timedelta(seconds=seconds)


@dataclass(frozen=True)
class CrmAccountRef:
    """Which CRM account to call, and where: ``https://<subdomain>.amocrm.ru`` or the
    ``AMOCRM_API_BASE_URL`` override."""

    account_id: int
    base_url: str

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("https://", "http://")):
            raise ValueError("base_url must be an http(s) origin")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))


@dataclass(frozen=True)
class LocationOption:
    """One of the network's locations as it should appear in the CRM's location list."""

    key: str
    name: str
    active: bool = True


@dataclass(frozen=True)
class FieldMap:
    """Per-account ids of the lead fields the platform owns; store it, never assume ids."""

    location_field_id: int
    location_options: Mapping[str, int]
    prepayment_url_field_id: int
    full_url_field_id: int
    paid_sum_field_id: int
    status_field_id: int
    status_options: Mapping[str, int] = field(default_factory=dict)
    # An existing date field of the owner's holding the service's start (mapped, never created).
    service_date_field_id: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "location_options", _frozen_mapping(self.location_options))
        object.__setattr__(self, "status_options", _frozen_mapping(self.status_options))

    def location_key_for(self, enum_id: int) -> str | None:
        for key, option_id in self.location_options.items():
            if option_id == enum_id:
                return key
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for storage next to the installation."""
        return {
            "location_field_id": self.location_field_id,
            "location_options": dict(self.location_options),
            "prepayment_url_field_id": self.prepayment_url_field_id,
            "full_url_field_id": self.full_url_field_id,
            "paid_sum_field_id": self.paid_sum_field_id,
            "status_field_id": self.status_field_id,
            "status_options": dict(self.status_options),
            # Only when mapped: the other *_field_id keys name fields that exist.
            **(
                {"service_date_field_id": self.service_date_field_id}
                if self.service_date_field_id
                else {}
            ),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FieldMap:
        return cls(
            location_field_id=int(data["location_field_id"]),
            location_options={str(k): int(v) for k, v in data["location_options"].items()},
            prepayment_url_field_id=int(data["prepayment_url_field_id"]),
            full_url_field_id=int(data["full_url_field_id"]),
            paid_sum_field_id=int(data["paid_sum_field_id"]),
            status_field_id=int(data["status_field_id"]),
            status_options={str(k): int(v) for k, v in data.get("status_options", {}).items()},
            service_date_field_id=(
                int(data["service_date_field_id"]) if data.get("service_date_field_id") else None
            ),
        )


@dataclass(frozen=True)
class LeadSnapshot:
    lead_id: int
    title: str
    price: Decimal
    location_key: str | None
    location_label: str | None
    updated_at: datetime | None
    # Where the lead stands (CRM ids as strings); "" when the CRM has no pipelines.
    pipeline_id: str = ""
    stage_id: str = ""
    # The service's start, from the mapped date field (None when unmapped or empty).
    service_date: datetime | None = None


@dataclass(frozen=True)
class BuyerContact:
    """How to reach the lead's buyer (its main contact): where receipts go (54-ФЗ). Either may
    be None; both are as the CRM holds them (the core checks and normalises them)."""

    email: str | None = None
    phone: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.email or self.phone)


# A stage's kind: the platform may move a lead only into an ``open`` stage or a closing one
# (``won``/``lost``); ``unsorted`` is the CRM's inbox. A lead in a closing stage is never moved.
STAGE_OPEN = "open"
STAGE_UNSORTED = "unsorted"
STAGE_WON = "won"
STAGE_LOST = "lost"
STAGE_KINDS = frozenset({STAGE_OPEN, STAGE_UNSORTED, STAGE_WON, STAGE_LOST})
CLOSED_STAGE_KINDS = frozenset({STAGE_WON, STAGE_LOST})


@dataclass(frozen=True)
class PipelineStage:
    """One stage (amoCRM "status") of a pipeline; ``sort`` orders the stages of one pipeline."""

    stage_id: str
    name: str
    sort: int
    kind: str = STAGE_OPEN

    def __post_init__(self) -> None:
        if self.kind not in STAGE_KINDS:
            raise ValueError(f"unknown stage kind {self.kind!r}")


@dataclass(frozen=True)
class Pipeline:
    pipeline_id: str
    name: str
    sort: int
    stages: tuple[PipelineStage, ...]
    is_main: bool = False
    is_archive: bool = False

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.stages, key=lambda s: (s.sort, s.stage_id)))
        object.__setattr__(self, "stages", ordered)

    def stage(self, stage_id: str) -> PipelineStage | None:
        return next((s for s in self.stages if s.stage_id == stage_id), None)

    def is_before(self, current_id: str, target_id: str) -> bool:
        """True when a lead at ``current_id`` may move forward to ``target_id``: both are
        stages here, the current one is not closed and comes strictly before the target."""
        current, target = self.stage(current_id), self.stage(target_id)
        if current is None or target is None or current.kind in CLOSED_STAGE_KINDS:
            return False
        if target.kind == STAGE_UNSORTED:
            return False
        return (current.sort, current.stage_id) < (target.sort, target.stage_id)


@dataclass(frozen=True)
class StageMove:
    """Put the lead into ``stage_id`` of ``pipeline_id`` (CRM ids as strings)."""

    lead_id: int
    pipeline_id: str
    stage_id: str


@dataclass(frozen=True)
class DealStateUpdate:
    """What the platform writes into a lead; a ``None`` URL clears that field.

    ``status_label`` is a deal status key (``open``, ``partially_paid``, ``paid``,
    ``overpaid``) or its label from ``PAYMENT_STATUS_LABELS``.
    """

    lead_id: int
    prepayment_url: str | None
    full_url: str | None
    paid_sum: Decimal
    status_label: str

    def __post_init__(self) -> None:
        if not isinstance(self.paid_sum, Decimal) or not self.paid_sum.is_finite():
            raise CrmValidationError("paid_sum must be a finite Decimal", code="bad_amount")


@dataclass(frozen=True)
class LeadEvent:
    kind: str
    account_id: int
    lead_id: int


@dataclass(frozen=True)
class CatchUpBatch:
    """Kept lead events handed out under a reservation (Bitrix24's safe mode, spec §6.5): the
    CRM keeps the records until ``CrmConnector.catch_up_acknowledge`` clears exactly these."""

    events: tuple[LeadEvent, ...]
    process_id: str = ""
    # The CRM's ids of every record handed out (the unreadable ones too: nothing more to do).
    record_ids: tuple[str, ...] = ()
    # As many records as asked for: the CRM may keep more.
    full: bool = False


class TokenStore(Protocol):
    """Where one account's OAuth pair lives; implemented by the core over its database.

    Token refresh rotates the refresh token, so two workers refreshing at once lose the
    installation. ``refresh`` must therefore:

    1. take a per-account lock (``SELECT ... FOR UPDATE`` or a Redis lock),
    2. re-read the stored pair,
    3. call ``refresher(stored)`` and, if the result is not ``stored`` itself, save it
       atomically before releasing the lock,
    4. return what it saved (or ``stored``).

    The refresher makes the decision: it returns ``stored`` unchanged when another worker
    already rotated the pair (so no network call happens) and calls the token endpoint only
    when the stored pair is still the stale one. It raises ``CrmAuthError`` when the CRM
    refuses the refresh token and ``CrmUnavailable`` on network trouble (keep the old pair).
    """

    def current(self) -> OAuthTokens: ...

    def refresh(self, refresher: Callable[[OAuthTokens], OAuthTokens]) -> OAuthTokens: ...


class RateLimiter(Protocol):
    def acquire(self, key: str, timeout: float) -> bool:
        """Block until a request slot for ``key`` is free; False when ``timeout`` passed first."""
        ...


class CrmConnector(abc.ABC):
    """One CRM account seen through the platform's needs. Every method may raise a
    ``CrmError``; ``permanent`` on it says whether a later retry can help."""

    slug: ClassVar[str]

    @abc.abstractmethod
    def read_lead(self, lead_id: int, fields: FieldMap) -> LeadSnapshot:
        """Return the lead's title, price (Decimal) and location resolved through ``fields``.

        Raises CrmNotFound when the lead does not exist (or was deleted).
        """

    @abc.abstractmethod
    def write_deal_state(self, update: DealStateUpdate, fields: FieldMap) -> None:
        """Write links, paid sum and payment status into the lead (idempotent: same values,
        same result). Raises CrmValidationError when a field id is gone (re-run
        ``ensure_fields``), CrmNotFound when the lead is gone."""

    @abc.abstractmethod
    def add_note(self, lead_id: int, text: str) -> int:
        """Add a text note to the lead and return the note id. Not idempotent by itself:
        store the id, or use ``add_note_once`` when a previous attempt may have landed."""

    @abc.abstractmethod
    def find_note(self, lead_id: int, marker: str) -> int | None:
        """Return the id of a recent note on the lead whose text contains ``marker``."""

    def add_note_once(self, lead_id: int, text: str, *, marker: str) -> int:
        """Add the note unless a note carrying ``marker`` already exists; return its id.

        Use after an ambiguous failure (timeout, 5xx on the create): the marker, e.g. the
        outbox message id, must appear in ``text``.
        """
        if marker not in text:
            raise ValueError("the marker must be part of the note text")
        existing = self.find_note(lead_id, marker)
        if existing is not None:
            return existing
        return self.add_note(lead_id, text)

    @abc.abstractmethod
    def ensure_fields(
        self, locations: Sequence[LocationOption], existing: FieldMap | None
    ) -> FieldMap:
        """Find or create the platform's lead fields and make the location list follow
        ``locations`` (added, renamed, deactivated). Idempotent: a second call with the same
        input changes nothing in the CRM. Returns the ids to store."""

    # Pipelines: optional for a connector; the default says the CRM has none (the platform then
    # moves no lead and takes locations only from the select field).
    supports_pipelines: ClassVar[bool] = False

    def read_pipelines(self) -> list[Pipeline]:
        """Every lead pipeline of the account with its stages, in the CRM's order."""
        raise CrmValidationError("this CRM has no pipelines", code="no_pipelines")

    def read_pipeline(self, pipeline_id: str) -> Pipeline:
        """One pipeline as it is now. Raises CrmNotFound when it is gone."""
        raise CrmValidationError("this CRM has no pipelines", code="no_pipelines")

    def move_lead(self, move: StageMove) -> None:
        """Set the lead's pipeline and stage (idempotent). Raises CrmValidationError when the
        CRM refuses the stage, CrmNotFound when the lead is gone."""
        raise CrmValidationError("this CRM has no pipelines", code="no_pipelines")

    def read_lead_contact(self, lead_id: int) -> BuyerContact | None:
        """The e-mail and phone of the lead's main contact (the first linked one when none is
        marked main); None when the lead has no contact or the CRM keeps none. Raises
        CrmNotFound when the lead is gone. Optional for a connector: the default has none."""
        return None

    @abc.abstractmethod
    def subscribe_webhook(self, destination_url: str) -> None:
        """Make sure the CRM posts lead events to ``destination_url`` (idempotent)."""

    def subscribe_uninstall(self, destination_url: str) -> None:
        """Make sure the CRM posts its uninstall event to ``destination_url`` (idempotent).
        Optional: a CRM with a hook of its own (amoCRM's signed disconnect) does nothing here."""
        return None

    def catch_up_events(self) -> list[LeadEvent]:
        """Lead events the CRM kept while we could not be reached (Bitrix24's offline queue),
        each handed out once: the CRM forgets what it returned. Optional: ``[]`` by default."""
        return []

    def catch_up_reserve(self, *, process_id: str) -> CatchUpBatch:
        """Lead events the CRM kept, reserved under ``process_id`` without being forgotten: a
        later call with the same id hands out the same records again (with newer ones) until
        they are acknowledged. Optional: by default ``catch_up_events`` (nothing kept back)."""
        return CatchUpBatch(events=tuple(self.catch_up_events()), process_id=process_id)

    def catch_up_acknowledge(self, batch: CatchUpBatch) -> None:
        """Forget exactly the records of ``batch`` (call once their re-reads are committed).
        Raises CrmError; records left reserved come back on the next reserve. Optional."""
        return None

    @classmethod
    @abc.abstractmethod
    def parse_webhook(cls, payload: Mapping[str, Any] | bytes | str) -> list[LeadEvent]:
        """Turn an inbound webhook body into lead events. The input is untrusted: junk is
        ignored and garbage gives ``[]``; this never raises. A classmethod: parsing needs no
        account or token, so the intake can run before it knows which account is speaking."""
