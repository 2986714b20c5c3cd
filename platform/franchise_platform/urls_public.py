"""URLs of the platform host (public schema)."""

from django.urls import path

from .api import public_api
from .health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", public_api.urls),
]
