"""GET /healthz: 200 when the database, the broker (and the cache's Redis, when the broker is not
Redis) answer; 503 naming the failing part.

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


def _redis_ok(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        return bool(client.ping())
    except Exception:
        return False


def _rabbitmq_ok(url: str) -> bool:
    try:
        with Connection(url, connect_timeout=1) as broker:  # type: ignore[no-untyped-call]
            broker.ensure_connection(max_retries=0)  # one attempt: a probe has seconds
            return bool(broker.connected)
    except Exception:
        return False


def _checks() -> list[tuple[str, Callable[[], bool]]]:
    """What must answer: the database and the broker; with RabbitMQ as the broker, also the Redis
    that still holds the cache, widget-token nonces and rate-limit windows."""
    # local: franchise_platform.celery imports Django's settings
    from franchise_platform.celery import broker_is_rabbitmq

    broker_url = settings.CELERY_BROKER_URL
    if not broker_is_rabbitmq(broker_url):
        return [("database", _database_ok), ("broker", lambda: _redis_ok(broker_url))]
    return [
        ("database", _database_ok),
        ("broker", lambda: _rabbitmq_ok(broker_url)),
        ("cache", lambda: _redis_ok(settings.REDIS_URL)),
    ]


def failing_parts() -> list[str]:
    """The names of the parts that do not answer (empty: all well); the worker's probe uses it too."""
    return [name for name, check in _checks() if not check()]


def _host_known(host: str) -> bool:
    # local: models need the app registry, and this module must import before it is ready
    from tenants.models import Domain

    public_hosts: list[str] = [settings.PLATFORM_DOMAIN, *settings.PLATFORM_EXTRA_PUBLIC_HOSTS]
    return host in public_hosts or Domain.objects.filter(domain=host).exists()


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path != HEALTH_PATH:
            return self.get_response(request)
        failing = failing_parts()
        host = request.get_host().split(":")[0].lower()
        if "database" not in failing and not _host_known(host):
            response = JsonResponse({"detail": "Unknown host.", "code": "unknown_host"}, status=404)
        elif failing:
            response = JsonResponse({"status": "unavailable", "failing": failing}, status=503)
        else:
            response = JsonResponse({"status": "ok"})
        add_never_cache_headers(response)
        return response
