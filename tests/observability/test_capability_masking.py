"""Capability URLs (payment-link tokens, the amoCRM webhook secret, one-time sign-in, verification
and reset links) never reach an access log line or a Sentry event."""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from franchise_platform.observability.access_log import MaskingLogger
from franchise_platform.observability.masking import mask_url
from franchise_platform.observability.sentry import scrub_breadcrumb, scrub_event

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Zq9-capability-secret-Xk2"

CAPABILITY_PATHS = [
    f"/pay/{SECRET}",
    f"/integrations/amocrm/webhook/{SECRET}/",
    f"/panel/login/link/{SECRET}/",
    f"/panel/verify-email/{SECRET}/",
    f"/panel/password-reset/MTIz/{SECRET}/",
]


def _gunicorn_config() -> Config:
    """deploy/gunicorn.conf.py loaded the way gunicorn loads it."""
    cfg = Config()
    namespace: dict[str, object] = {"__file__": str(ROOT / "deploy/gunicorn.conf.py")}
    exec(
        compile((ROOT / "deploy/gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"),
        namespace,
    )
    for name, value in namespace.items():
        if name in cfg.settings:
            cfg.set(name, value)
    return cfg


def _access_line(logger: MaskingLogger, path: str, query: str = "", referer: str = "-") -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.access_log.handlers = [handler]
    logger.access_log.setLevel(logging.INFO)
    logger.access_log.propagate = False
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": path + (f"?{query}" if query else ""),
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": referer,
    }
    resp = SimpleNamespace(status="200 OK", sent=10, headers=[("X-Request-ID", "r1")])
    req = SimpleNamespace(headers=[("HOST", "alpha.localhost"), ("REFERER", referer)])
    logger.access(resp, req, environ, timedelta(milliseconds=5))
    return stream.getvalue()


def test_the_deploy_config_uses_the_masking_logger():
    assert _gunicorn_config().logger_class is MaskingLogger


@pytest.mark.parametrize("path", CAPABILITY_PATHS)
def test_gunicorn_access_line_masks_capability_paths(path):
    logger = MaskingLogger(_gunicorn_config())

    line = _access_line(logger, path, query=f"code={SECRET}", referer=f"https://x.test{path}")

    assert SECRET not in line
    assert "***" in line


@pytest.mark.parametrize("path", CAPABILITY_PATHS)
def test_every_atom_a_format_can_name_is_masked(path):
    cfg = _gunicorn_config()
    cfg.set("access_log_format", "%(r)s %(U)s %(q)s %(f)s %({raw_uri}e)s %({referer}i)s")

    line = _access_line(MaskingLogger(cfg), path, query=f"code={SECRET}", referer=path)

    assert SECRET not in line


def test_ordinary_paths_stay_readable():
    logger = MaskingLogger(_gunicorn_config())

    line = _access_line(logger, "/api/v1/partners/")

    assert "/api/v1/partners/" in line


@pytest.mark.parametrize("path", CAPABILITY_PATHS)
def test_sentry_event_masks_capability_urls(path):
    event = {
        "request": {
            "url": f"http://alpha.localhost:8000{path}",
            "query_string": f"code={SECRET}",
            "headers": {"Referer": f"http://alpha.localhost:8000{path}?x={SECRET}"},
        },
        "message": f"Not Found: {path}",
        "exception": {"values": [{"value": f"no link at http://h{path}"}]},
    }

    cleaned = scrub_event(event)

    assert SECRET not in repr(cleaned)
    assert cleaned["request"]["url"].startswith("http://alpha.localhost:8000/")


def test_sentry_breadcrumb_of_an_outgoing_call_masks_its_url_and_query():
    crumb = {
        "type": "http",
        "category": "httpx",
        "data": {
            "url": f"https://auth.robokassa.ru/Merchant/WebService/Service.asmx/OpStateExt?Signature={SECRET}",
            "http.query": f"Signature={SECRET}",
        },
        "message": f"GET /pay/{SECRET}",
    }

    cleaned = scrub_breadcrumb(crumb, {})

    assert SECRET not in repr(cleaned)


@pytest.mark.parametrize("path", CAPABILITY_PATHS)
def test_application_log_lines_mask_capability_paths(path):
    """Django writes "Not Found: <path>" for a 404 and the web's logs carry it."""
    from franchise_platform.request_context import JsonFormatter

    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Not Found: %s", (path,), None
    )

    line = JsonFormatter().format(record)

    assert SECRET not in line
    assert "***" in line


def test_sentry_transaction_spans_mask_urls_and_queries():
    event = {
        "type": "transaction",
        "transaction": "/pay/{token}",
        "spans": [
            {
                "op": "http.client",
                "description": f"GET https://auth.robokassa.ru/pay/{SECRET}",
                "data": {
                    "url": f"https://x.test/integrations/amocrm/webhook/{SECRET}/?a={SECRET}",
                    "http.query": f"Signature={SECRET}",
                },
            }
        ],
    }

    cleaned = scrub_event(event)

    assert SECRET not in repr(cleaned)
    assert cleaned["transaction"] == "/pay/{token}"


def test_mask_url_keeps_the_names_of_query_parameters():
    assert mask_url(f"/pay/{SECRET}?InvId=5&x={SECRET}") == "/pay/***?InvId=***&x=***"


def test_reset_steps_without_a_token_are_left_alone():
    assert mask_url("/panel/password-reset/done/") == "/panel/password-reset/done/"


def _nginx() -> str | None:
    return shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )


@pytest.mark.skipif(_nginx() is None, reason="nginx is not installed")
def test_nginx_access_log_masks_capability_paths(tmp_path):
    """A real nginx with deploy/nginx's map and log format, answering 204 to everything."""
    import re

    import httpx

    from tests.live import free_port

    conf = (ROOT / "deploy/nginx/nginx.conf").read_text()
    block = re.search(r"\n    map \$uri \$platform_log_path \{.*?\n    \}\n", conf, re.S)
    fmt = re.search(r"\n    log_format json escape=json.*?;\n", conf, re.S)
    assert block and fmt and '"path":"$platform_log_path"' in fmt.group(0)
    port = free_port()
    log = tmp_path / "access.log"
    (tmp_path / "nginx.conf").write_text(
        f"""
        daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;
        events {{}}
        http {{
            {block.group(0)}
            {fmt.group(0).replace("$platform_request_id", "$request_id")}
            access_log {log} json;
            client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;
            fastcgi_temp_path {tmp_path}/fastcgi; uwsgi_temp_path {tmp_path}/uwsgi;
            scgi_temp_path {tmp_path}/scgi;
            server {{ listen 127.0.0.1:{port}; location / {{ return 204; }} }}
        }}
        """
    )
    proc = subprocess.Popen([_nginx(), "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)])
    try:
        from tests.live import wait_for

        def up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/up", timeout=1).status_code == 204
            except httpx.TransportError:
                return False

        wait_for(up, timeout=20, what="nginx answering")
        for path in [*CAPABILITY_PATHS, "/panel/password-reset/done/"]:
            httpx.get(f"http://127.0.0.1:{port}{path}?code={SECRET}", timeout=5)
        wait_for(lambda: log.read_text().count("\n") >= len(CAPABILITY_PATHS) + 2, what="log")
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    text = log.read_text()
    assert SECRET not in text
    assert '"path":"/pay/***"' in text
    assert '"path":"/integrations/amocrm/webhook/***/"' in text
    assert '"path":"/panel/password-reset/***/***/"' in text
    assert '"path":"/panel/password-reset/done/"' in text


def test_a_real_gunicorn_with_the_deploy_config_logs_masked_paths(tmp_path):
    """gunicorn -c deploy/gunicorn.conf.py in front of a tiny app; its access lines on stdout."""
    import os
    import sys

    import httpx

    from tests.live import free_port, wait_for

    (tmp_path / "tinyapp.py").write_text(
        "def app(environ, start_response):\n"
        "    start_response('204 No Content', [])\n"
        "    return [b'']\n"
    )
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "platform"), str(ROOT)])}
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "tinyapp:app",
            "-c",
            str(ROOT / "deploy/gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/up", timeout=1).status_code == 204
            except httpx.TransportError:
                return False

        wait_for(up, timeout=30, what="gunicorn answering")
        for path in CAPABILITY_PATHS:
            httpx.get(f"http://127.0.0.1:{port}{path}?code={SECRET}", timeout=5)
        text = lambda: (tmp_path / "gunicorn.log").read_text()  # noqa: E731
        wait_for(lambda: text().count("gunicorn.access") >= len(CAPABILITY_PATHS) + 1, what="log")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()

    assert SECRET not in text()
    assert "GET /pay/*** 204" in text()
