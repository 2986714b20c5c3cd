"""URLs of a network host (`<slug>.<PLATFORM_DOMAIN>`, the network's schema).
/healthz is answered by franchise_platform.health.HealthCheckMiddleware, before host routing."""

from django.conf import settings
from django.urls import include, path

from .api import network_api
from .panel.urls import root_redirect

urlpatterns = [
    path("api/v1/", network_api.urls),
    path("panel/", include("franchise_platform.panel.urls")),
    path("", include("franchise_platform.payments.urls")),
    path("", root_redirect),
]

if settings.PERF_FLOOR_ENDPOINTS:
    from .floor import network_floor

    urlpatterns.append(path("callbacks/robokassa/<uuid:partner_id>/floor/", network_floor))

if settings.DEMO_SANDBOX:  # the demo's stand-ins (franchise_platform/sandbox/), never in production
    urlpatterns.insert(0, path("", include("franchise_platform.sandbox.urls_tenant")))
