"""The lead fields the platform owns in an amoCRM account, found or created by name or code.

Field and enum ids differ per account (spec §7.5): we find our fields by the stored id, then
by ``code``, then by name and type, and create what is missing. The location select follows
the network's locations: added, renamed, deactivated (marked or removed). amoCRM replaces a
field's whole enum list on PATCH, so every PATCH carries the full list, existing ids included.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from crm_connectors.amocrm.client import AmoClient
from crm_connectors.amocrm.consts import TYPE_NUMERIC, TYPE_SELECT, TYPE_TEXT, TYPE_URL
from crm_connectors.base import PAYMENT_STATUS_LABELS, FieldMap, LocationOption
from crm_connectors.errors import CrmUnavailable

logger = logging.getLogger(__name__)

FIELDS_PATH = "/api/v4/leads/custom_fields"

ROLE_LOCATION = "location"
ROLE_PREPAYMENT_URL = "prepayment_url"
ROLE_FULL_URL = "full_url"
ROLE_PAID_SUM = "paid_sum"
ROLE_STATUS = "status"


@dataclass(frozen=True)
class FieldOptions:
    # Codes let us find our fields even when the stored ids are lost. Whether amoCRM accepts a
    # ``code`` on every field type is UNCERTAIN (§2.3): turn off to match by name only.
    use_codes: bool = True
    code_prefix: str = "FRANCHISE_PAY"
    # The payment status as a select (filterable in amoCRM) or plain text.
    status_field_type: Literal["select", "text"] = "select"
    # A deactivated location: "mark" keeps the option (old leads still resolve) with a suffix
    # and moves it to the end; "remove" deletes it (amoCRM then clears it on those leads).
    inactive_locations: Literal["mark", "remove"] = "mark"
    inactive_suffix: str = " (неактивна)"
    # Make the fields the platform writes read-only in amoCRM's UI.
    api_only: bool = False


@dataclass(frozen=True)
class FieldSpec:
    role: str
    name: str
    type: str
    code: str
    sort: int


def field_specs(options: FieldOptions) -> list[FieldSpec]:
    p = options.code_prefix
    status_type = TYPE_SELECT if options.status_field_type == "select" else TYPE_TEXT
    return [
        FieldSpec(ROLE_LOCATION, "Локация", TYPE_SELECT, f"{p}_LOCATION", 510),
        FieldSpec(
            ROLE_PREPAYMENT_URL, "Ссылка на предоплату", TYPE_URL, f"{p}_PREPAYMENT_URL", 520
        ),
        FieldSpec(ROLE_FULL_URL, "Ссылка на полную оплату", TYPE_URL, f"{p}_FULL_URL", 530),
        FieldSpec(ROLE_PAID_SUM, "Оплачено", TYPE_NUMERIC, f"{p}_PAID_SUM", 540),
        FieldSpec(ROLE_STATUS, "Статус оплаты", status_type, f"{p}_PAYMENT_STATUS", 550),
    ]


@dataclass(frozen=True)
class EnumPlan:
    """The full enum list to send, and which of our keys ends up on which option."""

    payload: list[dict[str, Any]]
    # key → enum id (existing option) or label (option created by this write)
    assignments: dict[str, int | str]
    changed: bool


def _current_enums(field: Mapping[str, Any] | None) -> list[tuple[int, str, int]]:
    enums = field.get("enums") if field else None
    found: list[tuple[int, str, int]] = []
    for item in enums if isinstance(enums, list) else []:
        if isinstance(item, dict) and isinstance(item.get("id"), int):
            sort = item.get("sort")
            found.append(
                (item["id"], str(item.get("value", "")), sort if isinstance(sort, int) else 0)
            )
    return found


def plan_enums(
    options: Sequence[LocationOption],
    previous: Mapping[str, int],
    current: Sequence[tuple[int, str, int]],
    *,
    mode: Literal["mark", "remove"] = "mark",
    suffix: str = " (неактивна)",
) -> EnumPlan:
    """Pure planning step of the enum sync (also used for the status options)."""
    current_by_id = {enum_id: value for enum_id, value, _ in current}
    wanted = {o.key: o for o in options}
    claimed: dict[str, int] = {k: v for k, v in previous.items() if v in current_by_id}
    claimed_ids = set(claimed.values())

    def label_for(key: str) -> str | None:
        option = wanted.get(key)
        if option is not None and option.active:
            return option.name.strip() or key
        if mode == "remove":
            return None
        if option is None:  # no longer listed at all: keep the text it has, marked once
            text = current_by_id[claimed[key]]
            return text if suffix.strip() in text else text + suffix
        return (option.name.strip() or key).removesuffix(suffix) + suffix

    # Options without a remembered id adopt an unclaimed option with the same text (a lost
    # FieldMap, a field created by hand).
    for option in options:
        if option.key in claimed or not (option.active or mode == "mark"):
            continue
        texts = {option.name.strip(), option.name.strip() + suffix}
        for enum_id, value, _ in current:
            if enum_id not in claimed_ids and value in texts:
                claimed[option.key] = enum_id
                claimed_ids.add(enum_id)
                break

    keys = [o.key for o in options] + [k for k in previous if k not in wanted and k in claimed]
    active = [k for k in keys if k in wanted and wanted[k].active]
    inactive = [k for k in keys if k not in active]
    foreign = [(i, v) for i, v, _ in current if i not in claimed_ids]

    taken = {value for _, value in foreign}
    rows: list[tuple[str | None, int | None, str]] = []  # (our key or None, enum id, label)
    for key in active + inactive:
        label = label_for(key)
        if label is None or (key in inactive and key not in claimed):
            continue  # removed, or inactive without an option to keep: nothing to show
        unique, n = label, 2
        while unique in taken:
            unique, n = f"{label} ({n})", n + 1
        taken.add(unique)
        rows.append((key, claimed.get(key), unique))
    # Order: active locations as given, then options we do not own, then inactive ones.
    rows[len(active) : len(active)] = [(None, enum_id, value) for enum_id, value in foreign]

    payload: list[dict[str, Any]] = []
    assignments: dict[str, int | str] = {}
    for position, (owner, row_id, text) in enumerate(rows, start=1):
        item: dict[str, Any] = {"value": text, "sort": position * 10}
        if row_id is not None:
            item = {"id": row_id, **item}
        payload.append(item)
        if owner is not None:
            assignments[owner] = row_id if row_id is not None else text
    before = {(i, v, s) for i, v, s in current}
    after = {(p.get("id"), p["value"], p["sort"]) for p in payload}
    return EnumPlan(payload=payload, assignments=assignments, changed=before != after)


def _resolve(assignments: Mapping[str, int | str], field: Mapping[str, Any]) -> dict[str, int]:
    by_value = {value: enum_id for enum_id, value, _ in _current_enums(field)}
    resolved: dict[str, int] = {}
    for key, target in assignments.items():
        enum_id = target if isinstance(target, int) else by_value.get(target)
        if enum_id is None:
            raise CrmUnavailable("amoCRM did not return the created option", code="bad_response")
        resolved[key] = enum_id
    return resolved


class FieldSynchronizer:
    """Runs one ``ensure_fields``: at most one list walk, one POST and one PATCH."""

    def __init__(self, client: AmoClient, options: FieldOptions) -> None:
        self._client = client
        self._options = options

    def _find(
        self,
        spec: FieldSpec,
        stored_id: int | None,
        fields: Sequence[dict[str, Any]],
        taken: set[int],
    ) -> dict[str, Any] | None:
        usable = [f for f in fields if f.get("type") == spec.type and f.get("id") not in taken]
        by_id = [f for f in usable if stored_id is not None and f.get("id") == stored_id]
        by_code = [f for f in usable if self._options.use_codes and f.get("code") == spec.code]
        by_name = [f for f in usable if str(f.get("name", "")).strip() == spec.name]
        for matches in (by_id, by_code, by_name):
            if matches:
                return matches[0]
        return None

    def run(self, locations: Sequence[LocationOption], existing: FieldMap | None) -> FieldMap:
        opts = self._options
        all_fields = list(self._client.iter_collection(FIELDS_PATH, "custom_fields"))
        stored: dict[str, int | None] = {
            ROLE_LOCATION: existing.location_field_id if existing else None,
            ROLE_PREPAYMENT_URL: existing.prepayment_url_field_id if existing else None,
            ROLE_FULL_URL: existing.full_url_field_id if existing else None,
            ROLE_PAID_SUM: existing.paid_sum_field_id if existing else None,
            ROLE_STATUS: existing.status_field_id if existing else None,
        }
        specs = field_specs(opts)
        found: dict[str, dict[str, Any]] = {}
        taken: set[int] = set()
        for spec in specs:
            field = self._find(spec, stored[spec.role], all_fields, taken)
            if field is not None:
                found[spec.role] = field
                taken.add(field["id"])

        plans: dict[str, EnumPlan] = {}
        enum_sources: dict[str, tuple[Sequence[LocationOption], Mapping[str, int]]] = {
            ROLE_LOCATION: (locations, existing.location_options if existing else {}),
        }
        if opts.status_field_type == "select":
            statuses = [LocationOption(k, v) for k, v in PAYMENT_STATUS_LABELS.items()]
            enum_sources[ROLE_STATUS] = (statuses, existing.status_options if existing else {})
        for role, (wanted, previous) in enum_sources.items():
            field = found.get(role)
            same_field = field is not None and field["id"] == stored[role]
            plans[role] = plan_enums(
                wanted,
                previous if same_field else {},
                _current_enums(field),
                mode=opts.inactive_locations if role == ROLE_LOCATION else "mark",
                suffix=opts.inactive_suffix,
            )

        created = self._create_missing(specs, found, plans)
        self._patch_changed(found, {r: p for r, p in plans.items() if r not in created})
        return FieldMap(
            location_field_id=found[ROLE_LOCATION]["id"],
            location_options=_resolve(plans[ROLE_LOCATION].assignments, found[ROLE_LOCATION]),
            prepayment_url_field_id=found[ROLE_PREPAYMENT_URL]["id"],
            full_url_field_id=found[ROLE_FULL_URL]["id"],
            paid_sum_field_id=found[ROLE_PAID_SUM]["id"],
            status_field_id=found[ROLE_STATUS]["id"],
            status_options=(
                _resolve(plans[ROLE_STATUS].assignments, found[ROLE_STATUS])
                if ROLE_STATUS in plans
                else {}
            ),
            service_date_field_id=existing.service_date_field_id if existing else None,
        )

    def _create_missing(
        self,
        specs: Sequence[FieldSpec],
        found: dict[str, dict[str, Any]],
        plans: Mapping[str, EnumPlan],
    ) -> set[str]:
        """POST the fields not found (with their options); return their roles."""
        missing = [s for s in specs if s.role not in found]
        if not missing:
            return set()
        body: list[dict[str, Any]] = []
        for spec in missing:
            item: dict[str, Any] = {"name": spec.name, "type": spec.type, "sort": spec.sort}
            if self._options.use_codes:
                item["code"] = spec.code
            if self._options.api_only and spec.role != ROLE_LOCATION:
                item["is_api_only"] = True
            if spec.role in plans:
                item["enums"] = [
                    {"value": e["value"], "sort": e["sort"]} for e in plans[spec.role].payload
                ]
            body.append(item)
        created = self._embedded_fields(self._client.post(FIELDS_PATH, body))
        if len(created) != len(missing):
            raise CrmUnavailable("amoCRM did not return every created field", code="bad_response")
        for spec, field in zip(missing, created, strict=True):
            if not isinstance(field.get("id"), int):
                raise CrmUnavailable("created field has no id", code="bad_response")
            if spec.role in plans and field.get("enums") is None:
                field = self._client.get(f"{FIELDS_PATH}/{field['id']}")
            found[spec.role] = field
            logger.info(
                "amoCRM account %s: created lead field %s (id %s)",
                self._client.account.account_id,
                spec.role,
                field["id"],
            )
        return {spec.role for spec in missing}

    def _patch_changed(
        self, found: dict[str, dict[str, Any]], plans: Mapping[str, EnumPlan]
    ) -> None:
        to_patch = [(role, plan) for role, plan in plans.items() if plan.changed]
        if not to_patch:
            return
        body = [{"id": found[role]["id"], "enums": plan.payload} for role, plan in to_patch]
        answered = {
            f.get("id"): f for f in self._embedded_fields(self._client.patch(FIELDS_PATH, body))
        }
        for role, _plan in to_patch:
            field_id = found[role]["id"]
            field = answered.get(field_id)
            if field is None or field.get("enums") is None:
                field = self._client.get(f"{FIELDS_PATH}/{field_id}")
            found[role] = field

    @staticmethod
    def _embedded_fields(data: Any) -> list[dict[str, Any]]:
        embedded = data.get("_embedded") if isinstance(data, dict) else None
        fields = embedded.get("custom_fields") if isinstance(embedded, dict) else None
        return [f for f in fields if isinstance(f, dict)] if isinstance(fields, list) else []
