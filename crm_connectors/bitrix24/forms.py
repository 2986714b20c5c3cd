"""Bitrix24 posts PHP-style forms (``auth[member_id]=…``, ``data[FIELDS][ID]=…``); every value is
an untrusted string. One bounded parser for events, install callbacks and frame POSTs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

MAX_BODY_BYTES = 256_000
MAX_FIELDS = 2_000
MAX_VALUE = 8_192


def form_fields(payload: Mapping[str, Any] | bytes | str) -> dict[str, str]:
    """Flat ``key → first value`` of a form body, a dict or a QueryDict; ``{}`` for junk."""
    if isinstance(payload, bytes):
        if len(payload) > MAX_BODY_BYTES:
            return {}
        payload = payload.decode("utf-8", errors="replace")
    pairs: list[tuple[str, str]] = []
    if isinstance(payload, str):
        if len(payload) > MAX_BODY_BYTES:
            return {}
        try:
            pairs = parse_qsl(payload, keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except ValueError:
            return {}
    else:
        for key, value in payload.items():
            values = [value] if isinstance(value, str) else value
            if not isinstance(key, str) or not isinstance(values, list | tuple):
                continue
            pairs.extend((key, v) for v in values if isinstance(v, str))
            if len(pairs) > MAX_FIELDS:
                return {}
    fields: dict[str, str] = {}
    for key, value in pairs:
        if len(value) <= MAX_VALUE:
            fields.setdefault(key, value)
    return fields


def section(fields: Mapping[str, str], name: str) -> dict[str, str]:
    """``name[key]`` entries (one level) as ``{key: value}``."""
    prefix = f"{name}["
    found: dict[str, str] = {}
    for key, value in fields.items():
        if key.startswith(prefix) and key.endswith("]") and key.count("[") == 1:
            found[key[len(prefix) : -1]] = value
    return found
