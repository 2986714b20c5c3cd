"""GET /healthz: 200 when the database and the broker answer, 503 naming the failing part."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return False


def _broker_ok() -> bool:
    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1, socket_connect_timeout=1)
        return bool(client.ping())
    except Exception:  # noqa: BLE001
        return False


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    failing = [name for name, ok in (("database", _database_ok()), ("broker", _broker_ok())) if not ok]
    if failing:
        return JsonResponse({"status": "unavailable", "failing": failing}, status=503)
    return JsonResponse({"status": "ok"})
