"""Reads of the network's configuration: partners, locations, settings.

Every query runs in the current network's schema, so an id from another network simply finds
nothing here (`DoesNotExist`), which the API and the panel answer with 404.
"""

from __future__ import annotations

from uuid import UUID

from django.db.models import Count, Q, QuerySet

from .models import Location, NetworkSettings, Partner


def network_settings_get() -> NetworkSettings:
    """The network's settings row, created with defaults on first read."""
    obj, created = NetworkSettings.objects.get_or_create(pk=1)
    if created:
        # Read back so the defaults carry the column's precision ("30.00", not "30").
        obj.refresh_from_db()
    return obj


def partner_list(*, active: bool | None = None) -> QuerySet[Partner]:
    """Partners by name with their shop and `location_count` (active locations), for lists."""
    partners = Partner.objects.select_related("provider_account").annotate(
        location_count=Count("locations", filter=Q(locations__active=True))
    )
    if active is not None:
        partners = partners.filter(active=active)
    return partners.order_by("name")


def partner_choices(*, keep: Partner | None = None) -> QuerySet[Partner]:
    """Partners a location may be given to: the active ones, plus `keep` (its current partner) even if
    deactivated, so that editing an old location does not force a move."""
    wanted = Q(active=True) | Q(pk=keep.pk) if keep is not None else Q(active=True)
    return Partner.objects.filter(wanted).order_by("name")


def partner_get(*, partner_id: UUID | str) -> Partner:
    """One partner with its shop. Raises Partner.DoesNotExist (also for a malformed id)."""
    try:
        UUID(str(partner_id))
    except ValueError:
        raise Partner.DoesNotExist from None
    return Partner.objects.select_related("provider_account").get(pk=partner_id)


def location_list(
    *, partner_id: UUID | str | None = None, active: bool | None = None
) -> QuerySet[Location]:
    locations = Location.objects.select_related("partner")
    if partner_id is not None:
        locations = locations.filter(partner_id=partner_id)
    if active is not None:
        locations = locations.filter(active=active)
    return locations.order_by("name")


def location_get(*, location_id: UUID | str) -> Location:
    """One location with its partner. Raises Location.DoesNotExist (also for a malformed id)."""
    try:
        UUID(str(location_id))
    except ValueError:
        raise Location.DoesNotExist from None
    return Location.objects.select_related("partner").get(pk=location_id)
