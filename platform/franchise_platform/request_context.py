"""Request id and network slug on every log line, JSON logs, and a last-line scrub of secrets."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from django.core.signals import request_finished
from django.db import connection
from django.http import HttpRequest, HttpResponse

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# Defence in depth: values that look like credentials are masked even if a caller slips.
_SECRET_PATTERN = re.compile(
    r"(?i)(password\d?|passwd|secret|token|authorization|signaturevalue)(['\"]?\s*[:=]\s*['\"]?)([^\s'\",&]+)"
)


def scrub(text: str) -> str:
    return _SECRET_PATTERN.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if re.fullmatch(r"[A-Za-z0-9._-]{8,64}", incoming) else uuid.uuid4().hex
        # Kept until the response is closed (request_finished below), so Django's own 4xx/5xx
        # lines, written after the middleware chain has returned, carry the id too.
        request_id_var.set(rid)
        response = self.get_response(request)
        response["X-Request-ID"] = rid
        return response


def _request_done(**_: object) -> None:
    request_id_var.set("-")


request_finished.connect(_request_done, dispatch_uid="request_context_done")


def network_label() -> str:
    """The current network's slug ("public" on the platform schema, "-" before any schema is set).

    In a request the middleware has set the network; in a Celery task tenant-schemas-celery has
    (and the task id stands in for the request id, see observability/celery_signals.py)."""
    schema = getattr(connection, "schema_name", None)
    if not schema:
        return "-"
    if schema == "public":
        return "public"
    slug = getattr(getattr(connection, "tenant", None), "slug", None)
    # A schema name is the slug with "-" written as "_" (tenants/slugs.py).
    return slug if isinstance(slug, str) and slug else str(schema).replace("_", "-")


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.network = network_label()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
            "request_id": getattr(record, "request_id", "-"),
            "network": getattr(record, "network", "-"),
        }
        if record.exc_info:
            payload["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(payload, ensure_ascii=False)
