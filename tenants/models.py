"""Network (the tenant) and Domain, in the public schema."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin


class NetworkQuerySet(models.QuerySet["Network"]):
    def customers(self) -> NetworkQuerySet:
        """Real networks: never the public schema (the template schema has no row at all)."""
        return self.exclude(schema_name="public")


class Network(TenantMixin):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Работает")
        SUSPENDED = "suspended", _("Приостановлена")

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("название"), max_length=200)
    slug = models.SlugField(_("адрес"), max_length=40, unique=True)
    owner_email = models.EmailField(_("e-mail владельца"), blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    auto_create_schema = True
    auto_drop_schema = True

    objects = NetworkQuerySet.as_manager()

    class Meta:
        verbose_name = _("сеть")
        verbose_name_plural = _("сети")

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def is_suspended(self) -> bool:
        return self.status == self.Status.SUSPENDED


class Domain(DomainMixin):
    class Meta:
        verbose_name = _("домен")
        verbose_name_plural = _("домены")
