"""The deal user fields the platform owns in a portal (spec §4.4), found or created by code.

Bitrix24 names a field by the ``FIELD_NAME`` we choose (``UF_CRM_*``), so our fields have fixed
codes derived from ``FieldOptions.code_prefix``; the ``FieldMap`` keeps their numeric ``ID`` (and
the option ``ID`` of each location and status) as the core's interface wants integers. An
enumeration option is ours when its ``XML_ID`` says so (``<prefix>_<key>``): renames and
deactivations follow the network's locations, options added by hand are left alone. Updates send
the full ``LIST`` with ``ID``s (omitted items are UNCERTAIN, §4.4).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from crm_connectors.base import PAYMENT_STATUS_LABELS, FieldMap, LocationOption
from crm_connectors.bitrix24.client import Bitrix24Client
from crm_connectors.bitrix24.consts import (
    MAX_FIELD_NAME,
    TYPE_ENUMERATION,
    TYPE_MONEY,
    TYPE_STRING,
    TYPE_URL,
    UF_PREFIX,
)
from crm_connectors.errors import CrmUnavailable, CrmValidationError

logger = logging.getLogger(__name__)

ROLE_LOCATION = "location"
ROLE_PREPAYMENT_URL = "prepayment_url"
ROLE_FULL_URL = "full_url"
ROLE_PAID_SUM = "paid_sum"
ROLE_STATUS = "status"

_SUFFIXES = {
    ROLE_LOCATION: "LOCATION",
    ROLE_PREPAYMENT_URL: "PREPAY_URL",
    ROLE_FULL_URL: "FULL_URL",
    ROLE_PAID_SUM: "PAID_SUM",
    ROLE_STATUS: "PAY_STATUS",
}


@dataclass(frozen=True)
class FieldOptions:
    # UF_CRM_<prefix>_<role>: at most 20 characters in all (§4.4), so the prefix is short.
    code_prefix: str = "FP"
    # The money field's currency (the platform charges in roubles).
    currency: str = "RUB"
    status_field_type: Literal["enumeration", "string"] = "enumeration"
    inactive_locations: Literal["mark", "remove"] = "mark"
    inactive_suffix: str = " (неактивна)"

    def __post_init__(self) -> None:
        if not self.code_prefix.isalnum() or not self.code_prefix.isupper():
            raise ValueError("code_prefix must be upper-case letters and digits")
        longest = max(len(s) for s in _SUFFIXES.values())
        if len(UF_PREFIX) + len(self.code_prefix) + 1 + longest > MAX_FIELD_NAME:
            raise ValueError("code_prefix makes field names longer than 20 characters")

    def code(self, role: str) -> str:
        return f"{UF_PREFIX}{self.code_prefix}_{_SUFFIXES[role]}"

    def xml_id(self, key: str) -> str:
        return f"{self.code_prefix.lower()}_{key}"


@dataclass(frozen=True)
class FieldSpec:
    role: str
    label_ru: str
    label_en: str
    type: str
    sort: int


def field_specs(options: FieldOptions) -> list[FieldSpec]:
    status_type = TYPE_ENUMERATION if options.status_field_type == "enumeration" else TYPE_STRING
    return [
        FieldSpec(ROLE_LOCATION, "Локация", "Location", TYPE_ENUMERATION, 510),
        FieldSpec(ROLE_PREPAYMENT_URL, "Ссылка на предоплату", "Prepayment link", TYPE_URL, 520),
        FieldSpec(ROLE_FULL_URL, "Ссылка на полную оплату", "Full payment link", TYPE_URL, 530),
        FieldSpec(ROLE_PAID_SUM, "Оплачено", "Paid", TYPE_MONEY, 540),
        FieldSpec(ROLE_STATUS, "Статус оплаты", "Payment status", status_type, 550),
    ]


def _id(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return int(value)
    return None


@dataclass(frozen=True)
class ListPlan:
    """The full ``LIST`` to send and whether it differs from what the portal has."""

    items: list[dict[str, Any]]
    changed: bool


def plan_list(
    wanted: Sequence[LocationOption],
    current: Sequence[Mapping[str, Any]],
    options: FieldOptions,
    *,
    mode: Literal["mark", "remove"],
) -> ListPlan:
    """Pure: the enumeration's new ``LIST`` (§4.4 update semantics: items with ``ID`` change,
    without ``ID`` are added, ``{ID, DEL: "Y"}`` are deleted)."""
    by_xml = {str(item.get("XML_ID") or ""): item for item in current}
    ours = {options.xml_id(o.key) for o in wanted}
    claimed: set[str] = set()
    items: list[dict[str, Any]] = []
    for position, option in enumerate(wanted, start=1):
        xml = options.xml_id(option.key)
        existing = by_xml.get(xml)
        if existing is None:  # adopt an option of ours made by hand or before XML_IDs
            name = option.name.strip()
            existing = next(
                (
                    item
                    for item in current
                    if not item.get("XML_ID")
                    and str(item.get("VALUE", "")).removesuffix(options.inactive_suffix) == name
                    and str(item.get("ID")) not in claimed
                ),
                None,
            )
        label = option.name.strip() or option.key
        sort = position * 10
        if not option.active:
            if mode == "remove":
                if existing is not None:
                    claimed.add(str(existing.get("ID")))
                    items.append({"ID": str(existing.get("ID")), "DEL": "Y"})
                continue
            label = label.removesuffix(options.inactive_suffix) + options.inactive_suffix
            sort += 10_000
        item: dict[str, Any] = {"VALUE": label, "SORT": str(sort), "XML_ID": xml, "DEF": "N"}
        if existing is not None:
            claimed.add(str(existing.get("ID")))
            item = {"ID": str(existing.get("ID")), **item}
        items.append(item)
    for old in current:  # options we do not own, and ours no longer listed, stay as they are
        if str(old.get("ID")) in claimed:
            continue
        kept = {k: str(old.get(k) or "") for k in ("ID", "VALUE", "SORT", "XML_ID", "DEF")}
        xml = kept["XML_ID"]
        if xml in ours:
            continue
        if xml.startswith(options.xml_id("")) and mode == "mark":
            if not kept["VALUE"].endswith(options.inactive_suffix):
                kept["VALUE"] += options.inactive_suffix
        elif xml.startswith(options.xml_id("")) and mode == "remove":
            items.append({"ID": kept["ID"], "DEL": "Y"})
            continue
        items.append(kept)
    before = {
        (str(i.get("ID")), str(i.get("VALUE")), str(i.get("SORT")), str(i.get("XML_ID") or ""))
        for i in current
    }
    after = {
        (i.get("ID", ""), i.get("VALUE", ""), i.get("SORT", ""), i.get("XML_ID", ""))
        for i in items
        if i.get("DEL") != "Y"
    }
    deleting = any(i.get("DEL") == "Y" for i in items)
    return ListPlan(items=items, changed=deleting or before != after)


def option_ids(
    field: Mapping[str, Any], keys: Sequence[str], options: FieldOptions
) -> dict[str, int]:
    """key → option ID for the keys whose option the field now has."""
    by_xml: dict[str, int] = {}
    for item in _list_of(field):
        option_id = _id(item.get("ID"))
        if option_id is not None:
            by_xml[str(item.get("XML_ID") or "")] = option_id
    return {key: by_xml[options.xml_id(key)] for key in keys if options.xml_id(key) in by_xml}


def _list_of(field: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    raw = field.get("LIST") if field else None
    return [item for item in raw if isinstance(item, dict)] if isinstance(raw, list) else []


class FieldSynchronizer:
    """Runs one ``ensure_fields``: one list walk, an add per missing field, an update per
    enumeration whose options changed, and a re-read of each enumeration we wrote."""

    def __init__(self, client: Bitrix24Client, options: FieldOptions) -> None:
        self._client = client
        self._options = options

    def _all_fields(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for item in self._client.iter_list("crm.deal.userfield.list", {"order": {"ID": "ASC"}}):
            name = item.get("FIELD_NAME")
            if isinstance(name, str):
                found.setdefault(name, item)
        return found

    def _get(self, field_id: int) -> dict[str, Any]:
        result = self._client.call("crm.deal.userfield.get", {"id": field_id}).result
        if not isinstance(result, dict) or _id(result.get("ID")) is None:
            raise CrmUnavailable(
                "Bitrix24 answered a user field without an id", code="bad_response"
            )
        return result

    def run(self, locations: Sequence[LocationOption], existing: FieldMap | None) -> FieldMap:
        opts = self._options
        current = self._all_fields()
        statuses = [LocationOption(k, v) for k, v in PAYMENT_STATUS_LABELS.items()]
        wanted_lists: dict[str, tuple[Sequence[LocationOption], Literal["mark", "remove"]]] = {
            ROLE_LOCATION: (locations, opts.inactive_locations)
        }
        if opts.status_field_type == "enumeration":
            wanted_lists[ROLE_STATUS] = (statuses, "mark")
        fields: dict[str, dict[str, Any]] = {}
        for spec in field_specs(opts):
            code = opts.code(spec.role)
            field = current.get(code)
            if field is not None and field.get("USER_TYPE_ID") != spec.type:
                raise CrmValidationError(
                    f"user field {code} exists with another type",
                    errors=(f"{code}: {field.get('USER_TYPE_ID')}",),
                    code="field_type_conflict",
                )
            if field is None:
                field = self._create(spec, code, wanted_lists.get(spec.role))
            elif spec.role in wanted_lists:
                wanted, mode = wanted_lists[spec.role]
                plan = plan_list(wanted, _list_of(field), opts, mode=mode)
                if plan.changed:
                    field_id = _id(field.get("ID"))
                    assert field_id is not None
                    self._client.call(
                        "crm.deal.userfield.update",
                        {"id": field_id, "fields": {"LIST": plan.items}},
                    )
                    field = self._get(field_id)
            fields[spec.role] = field
        ids = {role: _id(field.get("ID")) for role, field in fields.items()}
        if any(value is None for value in ids.values()):
            raise CrmUnavailable(
                "Bitrix24 answered a user field without an id", code="bad_response"
            )
        return FieldMap(
            location_field_id=ids[ROLE_LOCATION] or 0,
            location_options=option_ids(
                fields[ROLE_LOCATION],
                [o.key for o in locations if o.active or opts.inactive_locations == "mark"],
                opts,
            ),
            prepayment_url_field_id=ids[ROLE_PREPAYMENT_URL] or 0,
            full_url_field_id=ids[ROLE_FULL_URL] or 0,
            paid_sum_field_id=ids[ROLE_PAID_SUM] or 0,
            status_field_id=ids[ROLE_STATUS] or 0,
            status_options=(
                option_ids(fields[ROLE_STATUS], list(PAYMENT_STATUS_LABELS), opts)
                if ROLE_STATUS in wanted_lists
                else {}
            ),
            service_date_field_id=existing.service_date_field_id if existing else None,
        )

    def _create(
        self,
        spec: FieldSpec,
        code: str,
        wanted: tuple[Sequence[LocationOption], Literal["mark", "remove"]] | None,
    ) -> dict[str, Any]:
        labels = {"ru": spec.label_ru, "en": spec.label_en}
        body: dict[str, Any] = {
            "FIELD_NAME": code,
            "USER_TYPE_ID": spec.type,
            "EDIT_FORM_LABEL": labels,
            "LIST_COLUMN_LABEL": labels,
            "LIST_FILTER_LABEL": labels,
            "SORT": spec.sort,
            "MULTIPLE": "N",
            "MANDATORY": "N",
            "XML_ID": code,
        }
        if wanted is not None:
            options, mode = wanted
            plan = plan_list(options, [], self._options, mode=mode)
            body["LIST"] = [item for item in plan.items if item.get("DEL") != "Y"]
            body["SETTINGS"] = {"DISPLAY": "LIST"}
        field_id = _id(self._client.call("crm.deal.userfield.add", {"fields": body}).result)
        if field_id is None:
            # It may well exist now: the next run finds it by its code.
            raise CrmUnavailable("Bitrix24 did not return the new field's id", code="bad_response")
        logger.info(
            "Bitrix24 portal %s: created deal field %s (id %s)",
            self._client.portal.member_id,
            code,
            field_id,
        )
        return self._get(field_id) if wanted is not None else {**body, "ID": str(field_id)}
