"""Reads of the network's configuration."""

from __future__ import annotations

from .models import NetworkSettings


def network_settings_get() -> NetworkSettings:
    """The network's settings row, created with defaults on first read."""
    obj, _ = NetworkSettings.objects.get_or_create(pk=1)
    return obj
