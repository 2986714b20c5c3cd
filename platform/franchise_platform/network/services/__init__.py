"""Writes for partners, their shops at payment providers, locations and the network's settings.

Every write checks the rules in rules.py, saves, and leaves an audit entry naming the actor. Shop
passwords are recorded in the audit only as changed, never with a value.
"""

from .locations import LocationChanges, location_create, location_delete, location_update
from .network_settings import network_settings_update
from .partners import (
    AccountInput,
    PartnerChanges,
    ShopInput,
    partner_create,
    partner_delete,
    partner_update,
)

__all__ = [
    "AccountInput",
    "LocationChanges",
    "PartnerChanges",
    "ShopInput",
    "location_create",
    "location_delete",
    "location_update",
    "network_settings_update",
    "partner_create",
    "partner_delete",
    "partner_update",
]
