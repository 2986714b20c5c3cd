"""Per-network data keys, stored wrapped (AES-GCM under a master key) in the network's own schema."""

from __future__ import annotations

from django.db import models


class DataKey(models.Model):
    version = models.PositiveIntegerField(unique=True)
    master_key_id = models.CharField(max_length=32)
    wrapped_key = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"data key v{self.version} (master {self.master_key_id})"


class AuditEntry(models.Model):
    """Who changed what. Secret fields are recorded as changed, never with their values."""

    actor = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=300, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.object_repr}"
