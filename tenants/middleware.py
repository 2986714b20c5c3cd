"""Host routing: the platform host serves the public schema; `<slug>.<PLATFORM_DOMAIN>` a network.
An unknown host answers 404 before any network schema is touched."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django_tenants.middleware.main import TenantMainMiddleware


class NetworkHostMiddleware(TenantMainMiddleware):
    def no_tenant_found(self, request: HttpRequest, hostname: str) -> JsonResponse:
        return JsonResponse({"detail": "Unknown host.", "code": "unknown_host"}, status=404)
