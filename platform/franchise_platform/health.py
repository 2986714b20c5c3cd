"""GET /healthz: 200 when the database and the broker answer, 503 naming the failing part.

Answered by a middleware placed before host routing, because routing itself needs the database:
with PostgreSQL down, a view behind it could only fail with a 500. An unknown host still gets 404.
"""

from __future__ import annotations

from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers
from kombu.connection import Connection

from franchise_platform.db import schema_to_public

HEALTH_PATH = "/healthz"


def _database_ok() -> bool:
    try:
        schema_to_public()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return bool(cursor.fetchone() == (1,))
    except Exception:
        return False


def _broker_ok() -> bool:
    from franchise_platform.celery import broker_is_rabbitmq

    try:
        if broker_is_rabbitmq(settings.CELERY_BROKER_URL):
            with Connection(settings.CELERY_BROKER_URL, connect_timeout=1) as broker:  # type: ignore[no-untyped-call]
                broker.ensure_connection(max_retries=0)  # one attempt: a probe has seconds
                return bool(broker.connected)
        client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_timeout=1, socket_connect_timeout=1
        )
        return bool(client.ping())
    except Exception:
        return False


def _host_known(host: str) -> bool:
    from tenants.models import Domain

    public_hosts: list[str] = [settings.PLATFORM_DOMAIN, *settings.PLATFORM_EXTRA_PUBLIC_HOSTS]
    return host in public_hosts or Domain.objects.filter(domain=host).exists()


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path != HEALTH_PATH:
            return self.get_response(request)
        failing = [
            name for name, ok in (("database", _database_ok()), ("broker", _broker_ok())) if not ok
        ]
        host = request.get_host().split(":")[0].lower()
        if "database" not in failing and not _host_known(host):
            response = JsonResponse({"detail": "Unknown host.", "code": "unknown_host"}, status=404)
        elif failing:
            response = JsonResponse({"status": "unavailable", "failing": failing}, status=503)
        else:
            response = JsonResponse({"status": "ok"})
        add_never_cache_headers(response)
        return response
