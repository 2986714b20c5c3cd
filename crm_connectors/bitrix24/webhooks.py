"""Inbound Bitrix24 events (spec §6): form-encoded, bracket keys, all strings, unsigned. An event
is believed only when its ``auth[application_token]`` equals the one saved at install for its
``auth[member_id]``; even then only *which* deal changed is taken, and the deal is re-read.
The offline queue (§6.5) gives the same facts after downtime."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crm_connectors.base import LeadEvent
from crm_connectors.bitrix24.client import member_id_of
from crm_connectors.bitrix24.consts import EVENT_KINDS, TOKEN_RE
from crm_connectors.bitrix24.forms import form_fields, section
from crm_connectors.bitrix24.oauth import same_application_token

logger = logging.getLogger(__name__)

_ID = re.compile(r"^[1-9]\d{0,18}$")


def deal_id_of(value: object) -> int | None:
    text = (
        str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    )
    return int(text) if _ID.match(text) else None


@dataclass(frozen=True)
class PortalLeadEvent(LeadEvent):
    """A ``LeadEvent`` of a portal: Bitrix24 has no integer account id (``account_id`` is 0),
    the portal is ``member_id``."""

    member_id: str = ""


@dataclass(frozen=True)
class PortalEvent:
    """One posted event, parsed but not yet verified."""

    event: str
    member_id: str
    application_token: str = field(repr=False)
    deal_id: int | None = None
    handler_id: str = ""
    ts: int | None = None


def parse_event(payload: Mapping[str, Any] | bytes | str) -> PortalEvent | None:
    """The event in ``payload`` or None for anything unusable (never raises)."""
    try:
        fields = form_fields(payload)
        auth = section(fields, "auth")
        name = fields.get("event", "").strip().upper()
        token = auth.get("application_token", "")
        if not name or not TOKEN_RE.fullmatch(token):
            return None
        member_id = member_id_of(auth.get("member_id"))
        ts = fields.get("ts", "")
        return PortalEvent(
            event=name[:64],
            member_id=member_id,
            application_token=token,
            deal_id=deal_id_of(fields.get("data[FIELDS][ID]", "")),
            handler_id=fields.get("event_handler_id", "")[:32],
            ts=int(ts) if ts.isdigit() and len(ts) < 12 else None,
        )
    except ValueError:
        return None
    except Exception:  # untrusted input must never break the endpoint
        logger.warning("Bitrix24 event could not be parsed", exc_info=True)
        return None


def verify_event(event: PortalEvent, stored_application_token: str) -> bool:
    """§6.3: the token saved at install for ``event.member_id``, compared in constant time."""
    return same_application_token(event.application_token, stored_application_token)


def lead_events_of(event: PortalEvent) -> list[LeadEvent]:
    """The deal event as platform events (``[]`` for other events or no deal id)."""
    kind = EVENT_KINDS.get(event.event)
    if kind is None or event.deal_id is None:
        return []
    return [
        PortalLeadEvent(kind=kind, account_id=0, lead_id=event.deal_id, member_id=event.member_id)
    ]


def parse_lead_events(payload: Mapping[str, Any] | bytes | str) -> list[LeadEvent]:
    """Deal events of an **unverified** body: callers verify with ``verify_event`` first."""
    event = parse_event(payload)
    return lead_events_of(event) if event is not None else []


@dataclass(frozen=True)
class OfflineBatch:
    """One ``event.offline.get`` answer: the deal events, how many records named no deal (their
    ``EVENT_DATA`` is UNCERTAIN, §6.5; catch up by ``updatedTime`` then) and the process id."""

    events: tuple[LeadEvent, ...]
    unreadable: int
    process_id: str
    fetched: int
    # The ``ID`` of every record in the answer (for ``event.offline.clear``).
    record_ids: tuple[str, ...] = ()


def offline_batch(result: object, member_id: str) -> OfflineBatch:
    events_raw: Iterable[Any] = ()
    process_id = ""
    if isinstance(result, dict):
        raw = result.get("events")
        events_raw = raw if isinstance(raw, list) else ()
        process_id = str(result.get("process_id") or "")
    events: list[LeadEvent] = []
    seen: set[tuple[str, int]] = set()
    unreadable = fetched = 0
    record_ids: list[str] = []
    for item in events_raw:
        fetched += 1
        if not isinstance(item, dict):
            unreadable += 1
            continue
        record_id = item.get("ID")
        if isinstance(record_id, int | str) and str(record_id).isdigit():
            record_ids.append(str(record_id))
        kind = EVENT_KINDS.get(str(item.get("EVENT_NAME", "")).upper())
        data = item.get("EVENT_DATA")
        fields = data.get("FIELDS") if isinstance(data, dict) else None
        deal_id = deal_id_of(fields.get("ID")) if isinstance(fields, dict) else None
        if kind is None:
            continue
        if deal_id is None:
            unreadable += 1
            continue
        if (kind, deal_id) not in seen:
            seen.add((kind, deal_id))
            events.append(
                PortalLeadEvent(kind=kind, account_id=0, lead_id=deal_id, member_id=member_id)
            )
    return OfflineBatch(tuple(events), unreadable, process_id, fetched, tuple(record_ids))
