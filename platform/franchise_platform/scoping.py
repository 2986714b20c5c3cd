"""Which partner's rows a person may see: the one helper every panel page, export, dashboard figure
and API answer asks.

A `partner` user (a franchisee's own account) is confined to the one partner it is attached to; the
network's roles (owner, admin, viewer) see the whole network. Confinement fails closed: a partner
user whose link is somehow missing matches no row at all, never every row.

Querysets are confined by the path from their model to the partner, named here once per model (by
label, so this module imports no domain code). A model not named here cannot be confined, and
asking to confine it for a partner user is a bug that raises rather than shows everything.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from django.db.models import Model, QuerySet

from franchise_platform.accounts.models import Role

# No partner has this id: the filter of a partner user whose link is missing.
NO_PARTNER = uuid.UUID(int=0)

# The lookup from each model to the partner whose row it is.
PARTNER_PATHS: dict[str, str] = {
    "network.Partner": "pk",
    "network.Location": "partner",
    "network.ProviderAccount": "partner",
    "payments.Deal": "partner",
    "payments.Payment": "partner",
    "payments.Invoice": "provider_account__partner",
    "payments.Refund": "payment__partner",
    "payments.SettlementReceipt": "payment__partner",
    "royalties.RoyaltyStatement": "partner",
    "royalties.RoyaltyRule": "partner",
}

M = TypeVar("M", bound=Model)


def scope_partner_id(user: Any) -> uuid.UUID | None:
    """The partner the person is confined to, or None when the person sees the whole network."""
    if getattr(user, "role", None) != Role.PARTNER:
        return None
    partner_id = getattr(user, "partner_id", None)
    if not partner_id:
        return NO_PARTNER
    return partner_id if isinstance(partner_id, uuid.UUID) else uuid.UUID(str(partner_id))


def is_confined(user: Any) -> bool:
    return scope_partner_id(user) is not None


def confine(queryset: QuerySet[M], *, user: Any) -> QuerySet[M]:
    """The queryset as the person may see it: unchanged for the network's roles, only the rows of
    the person's partner for a partner user."""
    partner_id = scope_partner_id(user)
    if partner_id is None:
        return queryset
    label = queryset.model._meta.label
    path = PARTNER_PATHS.get(label)
    if path is None:
        raise LookupError(f"{label} has no partner path: it cannot be shown to a partner user")
    return queryset.filter(**{path: partner_id})


def allowed_partner_id(user: Any, requested: str | None) -> str | None:
    """The partner filter to apply for a request that may name one (a list's filter, an API
    parameter): a partner user always gets its own partner, whatever it asked for."""
    partner_id = scope_partner_id(user)
    return requested if partner_id is None else str(partner_id)
