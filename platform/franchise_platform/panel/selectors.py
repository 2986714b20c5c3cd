"""Reads only the panel needs: the dashboard's figures, the audit log, the CRM connection's health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db import connection as db
from django.db.models import Count, Min, Q, QuerySet

from franchise_platform.crm_sync.models import (
    ConnectionStatus,
    CrmConnection,
    OutboxMessage,
    OutboxStatus,
)
from franchise_platform.network.models import Location, Partner, ProviderAccount
from franchise_platform.security.models import AuditEntry


@dataclass(frozen=True)
class Overview:
    partners_active: int
    partners_inactive: int
    locations_active: int
    shops_in_test_mode: int
    shops_checked: int


def overview_get() -> Overview:
    return Overview(
        partners_active=Partner.objects.filter(active=True).count(),
        partners_inactive=Partner.objects.filter(active=False).count(),
        locations_active=Location.objects.filter(active=True).count(),
        shops_in_test_mode=ProviderAccount.objects.filter(
            test_mode=True, partner__active=True
        ).count(),
        # A shop counts as wired once a verified Robokassa notification reached its Result URL.
        shops_checked=Partner.objects.filter(active=True, shop_checked_at__isnull=False).count(),
    )


def audit_entries() -> QuerySet[AuditEntry]:
    """Newest first; the table's own ordering, stated here so the page never depends on it silently."""
    return AuditEntry.objects.order_by("-created_at", "-id")


def crm_connection_get() -> CrmConnection | None:
    """The network's CRM connection (the first made, as the outbox uses), or None."""
    return CrmConnection.objects.order_by("connected_at").first()


def crm_access_revoked() -> bool:
    """True when the CRM took the platform's access away: every panel page says so. False outside
    a network's schema (the table lives only there)."""
    if db.schema_name == "public":  # type: ignore[attr-defined]
        return False
    return CrmConnection.objects.filter(status=ConnectionStatus.REVOKED).exists()


def outbox_dead_exists() -> bool:
    """True when some CRM update is dead (waits for «Повторить»): every panel page says so.
    False outside a network's schema."""
    if db.schema_name == "public":  # type: ignore[attr-defined]
        return False
    return OutboxMessage.objects.filter(status=OutboxStatus.DEAD).exists()


@dataclass(frozen=True)
class OutboxHealth:
    pending: int
    oldest_pending_at: datetime | None
    dead: int


def outbox_health() -> OutboxHealth:
    """How the CRM queue is doing, in one query."""
    figures = OutboxMessage.objects.aggregate(
        pending=Count("pk", filter=Q(status=OutboxStatus.PENDING)),
        oldest=Min("created_at", filter=Q(status=OutboxStatus.PENDING)),
        dead=Count("pk", filter=Q(status=OutboxStatus.DEAD)),
    )
    return OutboxHealth(
        pending=figures["pending"], oldest_pending_at=figures["oldest"], dead=figures["dead"]
    )


def outbox_dead_list() -> QuerySet[OutboxMessage]:
    """Messages the CRM never took, newest first, with their deal."""
    return (
        OutboxMessage.objects.filter(status=OutboxStatus.DEAD)
        .select_related("deal")
        .order_by("-created_at")
    )


def outbox_message_get(*, message_id: str) -> OutboxMessage:
    """One message of this network. Raises OutboxMessage.DoesNotExist (also for a malformed id)."""
    try:
        pk = UUID(str(message_id))
    except ValueError:
        raise OutboxMessage.DoesNotExist from None
    return OutboxMessage.objects.get(pk=pk)
