"""Reads only the panel needs: the dashboard's figures and the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

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
