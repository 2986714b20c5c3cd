"""GET /metrics on the platform host: Prometheus text format behind a bearer token.

``METRICS_TOKEN`` unset: 404 (the endpoint does not exist). Set: 401 without
``Authorization: Bearer <METRICS_TOKEN>``. Network hosts have no /metrics at all.
"""

from __future__ import annotations

import hmac
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from .collectors import database_collector


def metrics_token() -> str:
    return str(getattr(settings, "METRICS_TOKEN", "") or os.environ.get("METRICS_TOKEN", ""))


def token_ok(header: str, token: str) -> bool:
    scheme, _, value = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.encode()
    )


def render_metrics(*, include_database: bool = True) -> bytes:
    """The process metrics (merged across processes in multiprocess mode) and the DB gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    if include_database:
        db_registry = CollectorRegistry(auto_describe=False)
        db_registry.register(database_collector)
        body += generate_latest(db_registry)
    return body


@never_cache
@require_http_methods(["GET", "HEAD"])
def metrics(request: HttpRequest) -> HttpResponse:
    token = metrics_token()
    if not token:
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    if not token_ok(request.headers.get("Authorization", ""), token):
        response = JsonResponse(
            {"detail": "A valid metrics token is required.", "code": "unauthorized"}, status=401
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)
