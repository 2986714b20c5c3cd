"""CORS for the widget API: amoCRM pages (https://<account>.amocrm.ru|.com, kommo.com) may call it
with the X-Auth-Token header. Nothing else on the platform is cross-origin."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

WIDGET_PREFIX = "/api/widget/"
AMO_ORIGIN = re.compile(r"^https://[a-z0-9-]+\.(amocrm\.ru|amocrm\.com|kommo\.com)$")


class WidgetCorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(WIDGET_PREFIX):
            return self.get_response(request)
        origin = request.headers.get("Origin", "")
        allowed = bool(AMO_ORIGIN.match(origin)) or origin in settings.WIDGET_EXTRA_ORIGINS
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response = HttpResponse(status=204 if allowed else 403)
            if allowed:
                response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
                response["Access-Control-Allow-Headers"] = "X-Auth-Token, Content-Type"
                response["Access-Control-Max-Age"] = "600"
        else:
            response = self.get_response(request)
        if allowed:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Expose-Headers"] = "Retry-After"
            response["Vary"] = "Origin"
        return response
