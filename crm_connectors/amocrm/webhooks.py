"""Inbound amoCRM webhooks (spec §3.2): form-encoded, PHP-style keys, all values strings, legacy
v2 field names, unsigned. We only extract *which* lead changed in *which* account; the lead is
re-read through the API before anything acts on it, so nothing else in the payload is trusted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from crm_connectors.amocrm.consts import WEBHOOK_ACTION_KINDS
from crm_connectors.base import LeadEvent

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
MAX_FIELDS = 20_000
MAX_EVENTS = 500

_LEAD_KEY = re.compile(r"^leads\[([a-z_]{1,20})\]\[(\d{1,5})\]\[(id|account_id)\]$")
_ID = re.compile(r"^[1-9]\d{0,18}$")


def _positive_id(value: str) -> int | None:
    value = value.strip()
    return int(value) if _ID.match(value) else None


def _pairs(payload: Mapping[str, Any] | bytes | str) -> Iterable[tuple[str, str]]:
    if isinstance(payload, bytes):
        if len(payload) > MAX_BODY_BYTES:
            return []
        payload = payload.decode("utf-8", errors="replace")
    if isinstance(payload, str):
        if len(payload) > MAX_BODY_BYTES:
            return []
        return parse_qsl(payload, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    pairs: list[tuple[str, str]] = []
    for key, value in payload.items():
        # A plain dict, dict(QueryDict.lists()), or a QueryDict itself (whose [] gives a str).
        values = [value] if isinstance(value, str) else value
        if not isinstance(key, str) or not isinstance(values, list | tuple):
            continue
        pairs.extend((key, v) for v in values if isinstance(v, str))
        if len(pairs) > MAX_FIELDS:
            return []
    return pairs


def parse_lead_events(payload: Mapping[str, Any] | bytes | str) -> list[LeadEvent]:
    """Lead events in the payload, de-duplicated, in order; ``[]`` for anything unusable."""
    try:
        return _lead_events(_pairs(payload))
    except Exception:  # untrusted input must never break the endpoint
        logger.warning("amoCRM webhook payload could not be parsed", exc_info=True)
        return []


def _lead_events(pairs: Iterable[tuple[str, str]]) -> list[LeadEvent]:
    account_id: int | None = None
    items: dict[tuple[str, str], dict[str, str]] = {}
    for key, value in pairs:
        if key == "account[id]":
            account_id = _positive_id(value)
            continue
        match = _LEAD_KEY.match(key)
        if match and match.group(1) in WEBHOOK_ACTION_KINDS:
            items.setdefault((match.group(1), match.group(2)), {})[match.group(3)] = value

    events: list[LeadEvent] = []
    seen: set[tuple[str, int]] = set()
    for (action, _index), fields in items.items():
        lead_id = _positive_id(fields.get("id", ""))
        item_account = _positive_id(fields["account_id"]) if "account_id" in fields else None
        if item_account is not None and account_id is not None and item_account != account_id:
            continue  # an item claiming another account: ignore it
        account = account_id if account_id is not None else item_account
        if lead_id is None or account is None:
            continue
        kind = WEBHOOK_ACTION_KINDS[action]
        if (kind, lead_id) in seen:
            continue
        seen.add((kind, lead_id))
        events.append(LeadEvent(kind=kind, account_id=account, lead_id=lead_id))
        if len(events) >= MAX_EVENTS:
            break
    return events
