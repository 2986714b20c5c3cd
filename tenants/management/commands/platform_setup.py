"""Make sure the public network row and the platform host's domain exist (idempotent)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from tenants.models import Domain, Network


class Command(BaseCommand):
    help = "Create the public tenant and the platform host's domain if missing."

    def handle(self, *args: Any, **options: Any) -> None:
        public, _ = Network.objects.get_or_create(
            schema_name="public", defaults={"name": "Platform", "slug": "public"}
        )
        hosts = {settings.PLATFORM_DOMAIN, *getattr(settings, "PLATFORM_EXTRA_PUBLIC_HOSTS", [])}
        for host in sorted(hosts):
            Domain.objects.get_or_create(
                domain=host,
                defaults={"tenant": public, "is_primary": host == settings.PLATFORM_DOMAIN},
            )
        self.stdout.write(f"platform host: {settings.PLATFORM_DOMAIN}")
