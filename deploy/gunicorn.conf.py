"""gunicorn settings for the `web` role (scripts/entrypoint.sh passes --bind and --workers).

* Logs: JSON through the platform's formatter (the same shape as the application's lines), the
  access line without the query string (it can carry one-time OAuth codes) and with the request id;
  the logger class masks capability URLs (payment-link tokens, the amoCRM webhook secret, one-time
  sign-in, verification and reset links) in every atom a format can name
  (franchise_platform/observability/masking.py).
* Static files: collected into STATIC_ROOT at image build (and by `make run`'s `all` role), with
  the content-hashed names of settings' STORAGES, and served by WhiteNoise wrapped around the WSGI
  app here, with far-future caching for hashed names; nothing in `make dev` (runserver serves them).
* Memory: each worker moves what it loaded at boot out of the garbage collector's generations
  (`gc.freeze`, post_worker_init): full collections stay short, and so do the slowest requests.
* Metrics: prometheus-client multiprocess mode (PROMETHEUS_MULTIPROC_DIR); a dead worker's live
  gauges are dropped.
"""

from __future__ import annotations

import gc
import os
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 25  # within Kubernetes' 30 s termination grace period
keepalive = 5
# gunicorn's admin socket would live in $HOME, which the image's user does not have; not needed.
control_socket_disable = True
# Recycle workers now and then (bounded memory growth), not all at once.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10
# Heartbeat files on tmpfs, not on a (possibly read-only) root filesystem.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - tmpfs
# X-Forwarded-* are trusted from these addresses only (nginx, the ingress controller).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
logger_class = "franchise_platform.observability.access_log.MaskingLogger"
access_log_format = (
    "%(m)s %(U)s %(s)s %(B)sB %(M)sms host=%({host}i)s request_id=%({x-request-id}o)s"
)
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "franchise_platform.request_context.JsonFormatter"}},
    "handlers": {
        "json": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        }
    },
    "root": {"level": "INFO", "handlers": ["json"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["json"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["json"], "propagate": False},
    },
}


def post_worker_init(worker: Any) -> None:
    # Everything loaded so far (Django, the URL configurations and views, wsgi.py) lives as long
    # as the worker: out of the collector's sight, so that its full collections during requests
    # walk only what requests made, not the whole application again and again.
    gc.collect()
    gc.freeze()
    static_root = ROOT / "staticfiles"
    if static_root.is_dir():
        from whitenoise import WhiteNoise

        worker.wsgi = WhiteNoise(
            worker.wsgi,
            root=str(static_root),
            prefix="static/",
            max_age=3600,
            # The manifest storage's copies (name.<12 hex>.ext) never change: cached for good.
            immutable_file_test=_hashed_name,
        )


def _hashed_name(path: str, url: str) -> bool:
    return re.search(r"\.[0-9a-f]{12}\.[A-Za-z0-9]+$", url) is not None


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
