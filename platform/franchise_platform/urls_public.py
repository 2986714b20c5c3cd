"""URLs of the platform host (public schema)."""

from django.conf import settings
from django.urls import include, path

from .api import public_api
from .panel.views import provider_connect

urlpatterns = [
    path("api/v1/", public_api.urls),
    path("operator/", include("franchise_platform.operator.urls")),
    path("", include("franchise_platform.crm_sync.urls_public")),
    # The OAuth app's callback of any provider that connects shops by OAuth.
    path(
        "integrations/providers/<slug:provider>/oauth/callback/",
        provider_connect.provider_oauth_callback,
        name="provider-oauth-callback",
    ),
    path("", include("tenants.urls")),
]

if settings.DEMO_SANDBOX:  # the demo's stand-ins (franchise_platform/sandbox/), never in production
    urlpatterns.insert(0, path("", include("franchise_platform.sandbox.urls_public")))
