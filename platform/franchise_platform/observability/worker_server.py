"""The Celery worker's own HTTP port (``METRICS_PORT``), served from the worker's main process
once the worker is ready:

* ``/metrics`` (task latency, invoices paid) with the same token rule as the web's: 404 without
  ``METRICS_TOKEN``, 401 without the token. Worker pods do not share the web's
  PROMETHEUS_MULTIPROC_DIR (process ids would collide across containers), so each worker is
  scraped by itself; no database gauges (the web's /metrics has them).
* ``/healthz``: 200 when the database and the broker answer, 503 naming the failing part, like
  the web's; Kubernetes probes the worker with it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.db import connection
from prometheus_client import CONTENT_TYPE_LATEST

from franchise_platform.health import failing_parts

from .views import metrics_token, render_metrics, token_ok

logger = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


def _health() -> tuple[str, bytes]:
    try:
        failing = failing_parts()
    finally:
        connection.close()  # this thread's connection; opened per probe
    if failing:
        body = json.dumps({"status": "unavailable", "failing": failing})
        return "503 Service Unavailable", body.encode()
    return "200 OK", b'{"status": "ok"}'


def metrics_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    token = metrics_token()
    json_type = [("Content-Type", "application/json")]
    if environ.get("PATH_INFO") == "/healthz":
        status, body = _health()
        start_response(status, [*json_type, ("Cache-Control", "no-store")])
        return [body]
    if not token or environ.get("PATH_INFO") != "/metrics":
        start_response("404 Not Found", json_type)
        return [b'{"detail": "Not found.", "code": "not_found"}']
    if not token_ok(environ.get("HTTP_AUTHORIZATION", ""), token):
        start_response(
            "401 Unauthorized", [*json_type, ("WWW-Authenticate", 'Bearer realm="metrics"')]
        )
        return [b'{"detail": "A valid metrics token is required.", "code": "unauthorized"}']
    start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
    return [render_metrics(include_database=False)]


def start_worker_metrics_server(**_: Any) -> int | None:
    """Start the server in a daemon thread; the port, or None when METRICS_PORT is unset."""
    port = os.environ.get("METRICS_PORT", "").strip()
    if not port:
        return None
    server = make_server(
        os.environ.get("METRICS_ADDR", "0.0.0.0"),  # noqa: S104 - scraped from other pods
        int(port),
        metrics_app,
        server_class=_Server,
        handler_class=_QuietHandler,
    )
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    logger.info("worker /healthz and /metrics on :%s", server.server_port)
    return int(server.server_port)
