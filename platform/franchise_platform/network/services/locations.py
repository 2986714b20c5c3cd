"""Locations: create, rename, move to another partner, (de)activate, delete."""

from __future__ import annotations

from typing import Any, TypedDict

from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from franchise_platform.security.audit import audit_record

from .. import rules
from ..errors import DeleteRefused, reject_if_any
from ..models import Location, Partner


class LocationChanges(TypedDict, total=False):
    name: str
    address: str
    partner: Partner
    active: bool


def _location_name_taken(name: str, *, exclude: Location | None = None) -> bool:
    others = Location.objects.filter(name__iexact=name)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    return others.exists()


@transaction.atomic(savepoint=False)
def location_create(
    *,
    actor: str,
    name: str,
    partner: Partner,
    address: str = "",
    active: bool = True,
    ip_address: str | None = None,
) -> Location:
    name, address = rules.one_line(name), rules.one_line(address)
    reject_if_any(
        rules.location_problems(name=name, address=address, name_taken=_location_name_taken(name))
    )
    location = Location.objects.create(name=name, address=address, partner=partner, active=active)
    audit_record(
        actor=actor,
        action="location.create",
        obj=location,
        changes={
            "name": (None, name),
            "address": (None, address),
            "partner": (None, str(partner)),
            "active": (None, active),
        },
        ip_address=ip_address,
    )
    return location


@transaction.atomic(savepoint=False)
def location_update(
    *, actor: str, location: Location, changes: LocationChanges, ip_address: str | None = None
) -> Location:
    """Rename, re-address, (de)activate or move a location to another partner."""
    name = rules.one_line(changes.get("name", location.name))
    address = rules.one_line(changes.get("address", location.address))
    reject_if_any(
        rules.location_problems(
            name=name, address=address, name_taken=_location_name_taken(name, exclude=location)
        )
    )
    new: dict[str, Any] = {"name": name, "address": address}
    if "partner" in changes:
        new["partner"] = changes["partner"]
    if "active" in changes:
        new["active"] = changes["active"]
    diff: dict[str, tuple[Any, Any]] = {}
    for field, value in new.items():
        old = getattr(location, field)
        if old != value:
            diff[field] = (str(old), str(value)) if field == "partner" else (old, value)
            setattr(location, field, value)
    if diff:
        location.save()
        audit_record(
            actor=actor, action="location.update", obj=location, changes=diff, ip_address=ip_address
        )
    return location


@transaction.atomic(savepoint=False)
def location_delete(*, actor: str, location: Location, ip_address: str | None = None) -> None:
    """Delete a location no deal refers to; raises DeleteRefused otherwise (deactivate it instead)."""
    label, pk = str(location), location.pk
    try:
        with transaction.atomic():
            location.delete()
    except ProtectedError as exc:
        raise DeleteRefused(
            _("К локации привязаны сделки: деактивируйте её вместо удаления."), "location_has_deals"
        ) from exc
    audit_record(
        actor=actor,
        action="location.delete",
        changes={"name": (label, None), "id": (str(pk), None)},
        ip_address=ip_address,
    )
