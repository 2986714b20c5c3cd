"""Locations as the CRM sees them: adding, renaming, (de)activating or deleting a location
queues one fields sync (the lead's location list) in the same transaction."""

from __future__ import annotations

from django.db import transaction

from franchise_platform.crm_sync.outbox import outbox_fields_sync_enqueue
from franchise_platform.network.models import Location, Partner
from franchise_platform.network.services import locations as location_services
from franchise_platform.network.services.locations import LocationChanges


@transaction.atomic
def location_create(
    *,
    actor: str,
    name: str,
    partner: Partner,
    address: str = "",
    active: bool = True,
    ip_address: str | None = None,
) -> Location:
    """``network.services.location_create``, then the CRM's location list gains the option."""
    location = location_services.location_create(
        actor=actor,
        name=name,
        partner=partner,
        address=address,
        active=active,
        ip_address=ip_address,
    )
    outbox_fields_sync_enqueue()
    return location


@transaction.atomic
def location_update(
    *, actor: str, location: Location, changes: LocationChanges, ip_address: str | None = None
) -> Location:
    """``network.services.location_update``; a new name or (de)activation renames, hides or
    shows the CRM's option again."""
    before = (location.name, location.active)
    location_services.location_update(
        actor=actor, location=location, changes=changes, ip_address=ip_address
    )
    if (location.name, location.active) != before:
        outbox_fields_sync_enqueue()
    return location


@transaction.atomic
def location_delete(*, actor: str, location: Location, ip_address: str | None = None) -> None:
    """``network.services.location_delete``, then the CRM's option is marked inactive."""
    location_services.location_delete(actor=actor, location=location, ip_address=ip_address)
    outbox_fields_sync_enqueue()
