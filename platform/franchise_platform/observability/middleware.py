"""Request-level middleware for observability: `Server-Timing` on every answer, and GET /metrics.

`/metrics` is answered on a platform host before host routing, as /healthz is.

Prometheus scrapes every pod by its IP (each pod's processes keep their own metrics), so the Host
it sends is the pod's address, which has no Domain row. The platform hosts here are the same as
for /healthz: PLATFORM_DOMAIN and PLATFORM_EXTRA_PUBLIC_HOSTS (the deployment adds the pod IP).
A network host never serves /metrics: it goes on to routing and gets that host's 404.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from .views import metrics

METRICS_PATH = "/metrics"


def platform_host(request: HttpRequest) -> bool:
    host = request.get_host().rsplit(":", 1)[0].strip("[]").lower()
    return host == settings.PLATFORM_DOMAIN or host in settings.PLATFORM_EXTRA_PUBLIC_HOSTS


class MetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == METRICS_PATH and platform_host(request):
            return metrics(request)
        return self.get_response(request)


class ServerTimingMiddleware:
    """`Server-Timing: app;dur=<ms>` on every answer: the time spent in Django, outermost, so a
    browser's network panel (or a benchmark) can tell our time from the network's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        began = time.perf_counter()
        response = self.get_response(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - began) * 1000:.1f}"
        return response
