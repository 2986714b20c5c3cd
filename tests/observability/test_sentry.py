"""Optional Sentry: with SENTRY_DSN set the client starts (Django and Celery integrations) and what
it sends carries no secret: no local variables, no request bodies, log arguments formatted and
scrubbed. A local HTTP endpoint stands in for Sentry and keeps every envelope."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from franchise_platform.observability.sentry import MASK, scrub_event
from tests.deploy.support import ROOT, SCRATCH_REDIS_URL

SCRIPT = textwrap.dedent(
    """
    import logging, sys
    import django
    django.setup()  # the observability app starts Sentry (SENTRY_DSN is set)
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    secret = sys.argv[1]
    client = sentry_sdk.get_client()
    assert client.is_active()
    assert client.get_integration(DjangoIntegration) and client.get_integration(CeleryIntegration)
    assert client.options["send_default_pii"] is False

    def provider_call(password2=secret):
        shop = {"password2": password2}
        raise RuntimeError(f"provider refused: password2={password2}")

    try:
        provider_call()
    except RuntimeError:
        sentry_sdk.capture_exception()
    logging.getLogger("franchise_platform.payments").error("callback failed, token=%s", secret)
    logging.getLogger("franchise_platform.payments").error("shop answered %s", secret)
    sentry_sdk.flush(10)
    print("SENT")
    """
)


class _Collector(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        type(self).bodies.append(body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def test_sentry_events_carry_no_secret():
    secret = "SENTINEL-sentry-" + uuid.uuid4().hex
    _Collector.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "franchise_platform.settings.test",
            "TEST_REDIS_URL": SCRATCH_REDIS_URL,
            "SENTRY_DSN": f"http://publickey@127.0.0.1:{server.server_port}/1",
        }
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT, secret],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0 and "SENT" in result.stdout, result.stderr
    sent = b"\n".join(_Collector.bodies).decode(errors="replace")
    assert "provider refused" in sent and "callback failed" in sent  # events did arrive
    assert "RuntimeError" in sent
    assert secret not in sent  # not even from sys.argv, where the script received it


def test_scrub_event_masks_secret_keys_request_data_and_strings():
    event = {
        "request": {
            "url": "https://a.example.com/callbacks/robokassa/1/result/",
            "query_string": "OutSum=1&SignatureValue=ABC",
            "data": {"password2": "p2"},
            "cookies": {"sessionid": "s"},
            "headers": {"Authorization": "Bearer t0k3n", "X-Auth-Token": "w1dg3t"},
        },
        "extra": {"shop": {"password1": "p1", "merchant_login": "shop-1"}, "note": "token=abc"},
        "logentry": {"message": "amo answered %s", "params": ["refresh-xyz"]},
    }
    clean = scrub_event(event, {})
    assert "data" not in clean["request"] and "cookies" not in clean["request"]
    assert clean["request"]["query_string"] == MASK
    assert clean["request"]["headers"]["Authorization"] == MASK
    assert clean["request"]["headers"]["X-Auth-Token"] == MASK
    assert clean["extra"]["shop"] == {"password1": MASK, "merchant_login": "shop-1"}
    assert clean["extra"]["note"] == "token=***"
    assert clean["logentry"] == {"message": "amo answered %s", "params": []}
