"""URLs of a network host (`<slug>.<PLATFORM_DOMAIN>`, the network's schema)."""

from django.urls import path

from .api import network_api

urlpatterns = [
    path("api/v1/", network_api.urls),
]
