"""Writes on the network's CRM connection made by its owner (the panel).

The platform finds or creates its lead fields by itself; an owner whose account already has such
fields can point the platform at them instead. The ids are stored in `CrmConnection.field_map` and
a fields sync is queued: it checks the ids against the account (a field of the wrong type is not
used) and brings the location and status options into those fields.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils.translation import gettext as _

from franchise_platform.security.audit import audit_record

from .models import CrmConnection, OutboxKind, OutboxMessage, OutboxStatus
from .outbox import outbox_fields_sync_enqueue
from .sender import outbox_message_retry, outbox_messages_retry
from .stages import lead_stage_event_queue as lead_stage_event_queue  # the flows' entry point

FIELD_ROLES = (
    "location_field_id",
    "prepayment_url_field_id",
    "full_url_field_id",
    "paid_sum_field_id",
    "status_field_id",
)
# The options we remember belong to one field: a different field starts from its own options.
_OPTIONS_OF = {"location_field_id": "location_options", "status_field_id": "status_options"}


class FieldMapRejected(ValueError):
    """The ids given cannot be used; `problems` maps a role to a message a person understands."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


def _field_id(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError
    number = int(str(value).strip()) if not isinstance(value, int) else value
    if number <= 0 or number >= 2**63:
        raise ValueError
    return number


@transaction.atomic
def crm_field_map_set(
    *,
    connection: CrmConnection,
    location_field_id: int | str,
    prepayment_url_field_id: int | str,
    full_url_field_id: int | str,
    paid_sum_field_id: int | str,
    status_field_id: int | str,
    service_date_field_id: int | str | None = None,
    actor: str = "",
    ip_address: str | None = None,
) -> OutboxMessage | None:
    """Use these existing amoCRM lead fields for the platform's five roles, then queue a fields
    sync. Raises FieldMapRejected when an id is not a positive whole number or two roles share a
    field; changes nothing then. Returns the (coalesced) pending fields-sync message."""
    given: dict[str, object] = {
        "location_field_id": location_field_id,
        "prepayment_url_field_id": prepayment_url_field_id,
        "full_url_field_id": full_url_field_id,
        "paid_sum_field_id": paid_sum_field_id,
        "status_field_id": status_field_id,
    }
    ids: dict[str, int] = {}
    problems: dict[str, str] = {}
    for role, value in given.items():
        try:
            ids[role] = _field_id(value)
        except (TypeError, ValueError):
            problems[role] = _("Укажите номер поля amoCRM — целое положительное число.")
    # The service date is optional: empty unmaps it.
    service_date_id: int | None = None
    if service_date_field_id not in (None, ""):
        try:
            service_date_id = ids["service_date_field_id"] = _field_id(service_date_field_id)
        except (TypeError, ValueError):
            problems["service_date_field_id"] = _(
                "Укажите номер поля amoCRM — целое положительное число."
            )
    seen: dict[int, str] = {}
    for role, field_id in ids.items():
        if field_id in seen:
            problems[role] = _("Это поле уже выбрано для другой роли.")
        seen.setdefault(field_id, role)
    if problems:
        raise FieldMapRejected(problems)

    row = CrmConnection.objects.select_for_update().get(pk=connection.pk)
    old: dict[str, Any] = dict(row.field_map or {})
    new: dict[str, Any] = {**old, **ids}
    if service_date_id is None:
        new.pop("service_date_field_id", None)
    for role, options in _OPTIONS_OF.items():
        same_field = old.get(role) == ids[role]
        new[options] = dict(old.get(options) or {}) if same_field else {}
    row.field_map = new
    row.save(update_fields=["field_map", "updated_at"])
    connection.field_map = new
    changes = {
        role: (old.get(role), new.get(role))
        for role in (*FIELD_ROLES, "service_date_field_id")
        if old.get(role) != new.get(role)
    }
    if changes:
        audit_record(
            actor=actor, action="crm.field_map", obj=row, changes=changes, ip_address=ip_address
        )
    return outbox_fields_sync_enqueue()


def crm_outbox_retry(*, message_id: str, actor: str = "", ip_address: str | None = None) -> bool:
    """The panel's «Повторить»: a dead message in this network gets a fresh set of attempts and
    is sent again. False (and nothing changes) when there is no such dead message here."""

    try:
        pk = UUID(str(message_id))
    except ValueError:
        return False
    message = OutboxMessage.objects.filter(pk=pk).first()
    if message is None or not outbox_message_retry(message_id=str(pk)):
        return False
    audit_record(
        actor=actor,
        action="crm.outbox_retry",
        changes={
            "kind": (None, str(OutboxKind(message.kind).label)),
            "status": (OutboxStatus.DEAD.value, OutboxStatus.PENDING.value),
        },
        ip_address=ip_address,
    )
    return True


def crm_outbox_retry_all(*, actor: str = "", ip_address: str | None = None) -> int:
    """The panel's «Повторить все»: every dead message of this network back in the queue with a
    new retry window, woken at the background rate; one audit entry for the lot. Returns how many
    were revived (0, and no audit entry, when none was dead)."""

    with transaction.atomic():
        revived = outbox_messages_retry()
        if revived:
            audit_record(
                actor=actor,
                action="crm.outbox_retry_all",
                changes={"revived": (None, revived)},
                ip_address=ip_address,
            )
    return revived
