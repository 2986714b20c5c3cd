"""Typed access to django-tenants' additions on the database connection."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.db import connection

if TYPE_CHECKING:
    from tenants.models import Network


def schema_name() -> str:
    """The schema the connection is on ("public" outside any network)."""
    return cast(str, getattr(connection, "schema_name", "public"))


def schema_to_public() -> None:
    connection.set_schema_to_public()  # type: ignore[attr-defined]


def current_network() -> Network:
    """The network whose schema the connection is on (set by the host middleware or a task)."""
    return cast("Network", connection.tenant)  # type: ignore[attr-defined]
