"""Reads about networks."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Network


def networks_active() -> QuerySet[Network]:
    """Every real network (not the public schema, never the template), including suspended ones:
    their callbacks are still applied, so background work must keep running for them."""
    return Network.objects.customers().order_by("pk")
