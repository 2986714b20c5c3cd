"""URLs of the platform host (public schema)."""

from django.urls import path

from .api import public_api

urlpatterns = [
    path("api/v1/", public_api.urls),
]
