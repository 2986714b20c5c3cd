"""Issue 7: sign-up answered with the network ready, over HTTP, and how many networks it takes to
stop meeting the goal (p95 <= 1.5 s on this machine).

`POST /api/v1/signup` goes to a real gunicorn started like tests/live.py does, with PRODUCTION
settings (Argon2id owner password, the verification e-mail through SMTP to a local sink), so the
figure is what a newcomer waits for. A 201 means the schema, the owner and the API token exist
(CONTRACT.md); each sign-up is then proven ready by a call to the new network's API with that token.

Phases: 50 sign-ups on an empty platform; then networks are added in-process (quickly: a fast
hasher for their owners) up to each size in BENCH_SIGNUP_FLEETS (default 500) and 50 more sign-ups
are measured there. The per-address sign-up limit is off for the run (every request comes from
127.0.0.1) and is measured by the test suite instead.
"""

from __future__ import annotations

import os
import socketserver
import threading
import time
import uuid

from .common import setup_django, summary, write_result

SAMPLES = int(os.environ.get("BENCH_SIGNUP_SAMPLES", 50))
FLEETS = [int(n) for n in os.environ.get("BENCH_SIGNUP_FLEETS", "500").split(",") if n.strip()]
GOAL_P95_SECONDS = 1.5
PASSWORD = "Bench-Signup-Password-42"


class _SmtpSink(socketserver.ThreadingTCPServer):
    """Just enough SMTP to accept a message: the sign-up's e-mail costs a real round trip."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        self.messages = 0


class _SmtpHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server: _SmtpSink = self.server  # type: ignore[assignment]
        self.wfile.write(b"220 bench-sink ESMTP\r\n")
        while line := self.rfile.readline():
            command = line.strip().upper()
            if command.startswith((b"EHLO", b"HELO")):
                self.wfile.write(b"250 bench-sink\r\n")
            elif command == b"DATA":
                self.wfile.write(b"354 go on\r\n")
                while (data := self.rfile.readline()) and data != b".\r\n":
                    pass
                server.messages += 1
                self.wfile.write(b"250 queued\r\n")
            elif command == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


def _server_env(port: int, smtp_port: int) -> dict[str, str]:
    from django.conf import settings

    from tests.worker import worker_env

    base = worker_env()  # the bench database, its Redis, the master keys
    return {
        **base,
        "DJANGO_SETTINGS_MODULE": "franchise_platform.settings.prod",
        "SECRET_KEY": "bench-only-secret-key-" + uuid.uuid4().hex,
        "REDIS_URL": settings.REDIS_URL,
        "AMOCRM_CLIENT_ID": settings.AMOCRM_CLIENT_ID,
        "AMOCRM_CLIENT_SECRET": settings.AMOCRM_CLIENT_SECRET,
        "PLATFORM_BASE_URL": f"http://localhost:{port}",
        "SECURE_SSL_REDIRECT": "0",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_USE_TLS": "0",
        "SIGNUP_RATE_LIMIT": "0",
        "LOG_LEVEL": "WARNING",
    }


def _signups(client, count: int, label: str) -> tuple[list[float], list[float]]:
    """`count` sign-ups: seconds to the 201, and seconds for the new network's first API call."""
    answered, ready = [], []
    for i in range(count):
        slug = f"{label}-{uuid.uuid4().hex[:10]}-{i}"
        body = {
            "network_name": f"Bench {slug}",
            "slug": slug,
            "owner_email": f"owner@{slug}.test",
            "owner_password": PASSWORD,
        }
        start = time.perf_counter()
        response = client.post("/api/v1/signup", json=body)
        answered.append(time.perf_counter() - start)
        assert response.status_code == 201, response.text
        token = response.json()["api_token"]
        start = time.perf_counter()
        check = client.get(
            f"http://{slug}.localhost:{client.base_url.port}/api/v1/partners",
            headers={"Authorization": f"Bearer {token}"},
        )
        ready.append(time.perf_counter() - start)
        assert check.status_code == 200, check.text
    return answered, ready


def _grow_fleet(target: int) -> float:
    """Networks added in-process until `target` exist; their owners use a fast hasher."""
    from django.test import override_settings

    from tenants.models import Network
    from tenants.services import network_create

    start = time.perf_counter()
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        while (existing := Network.objects.customers().count()) < target:
            for _ in range(min(50, target - existing)):
                slug = f"fleet-{uuid.uuid4().hex[:12]}"
                network_create(
                    name=f"Fleet {slug}",
                    slug=slug,
                    owner_email=f"o@{slug}.test",
                    owner_password=PASSWORD,
                )
    return time.perf_counter() - start


def run() -> None:
    os.environ.setdefault("TEST_REDIS_URL", "redis://127.0.0.1:6379/12")
    setup_django(fresh=True)
    from tenants.models import Network
    from tests.live import free_port, start_server

    sink = _SmtpSink()
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    port = free_port()
    server = start_server(_server_env(port, sink.server_address[1]), port, workers=2, threads=4)
    phases = []
    try:
        with server.client() as client:
            _signups(client, 3, "warmup")  # imports, connection pools, the template snapshot
            answered, ready = _signups(client, SAMPLES, "empty")
            phases.append(
                {
                    "networks_before": Network.objects.customers().count() - SAMPLES,
                    "signup_answered_seconds": summary(answered),
                    "first_api_call_seconds": summary(ready),
                }
            )
            for fleet in FLEETS:
                grown = _grow_fleet(fleet)
                networks = Network.objects.customers().count()
                answered, ready = _signups(client, SAMPLES, f"at{fleet}")
                phases.append(
                    {
                        "networks_before": networks,
                        "fleet_created_in_process_seconds": round(grown, 1),
                        "signup_answered_seconds": summary(answered),
                        "first_api_call_seconds": summary(ready),
                    }
                )
    finally:
        server.stop()
        sink.shutdown()
    held = [
        p["networks_before"]
        for p in phases
        if p["signup_answered_seconds"]["p95"] <= GOAL_P95_SECONDS
    ]
    write_result(
        "signup",
        {
            "goal": f"POST /api/v1/signup answered (network ready) p95 <= {GOAL_P95_SECONDS} s",
            "path": "HTTP to gunicorn (2 workers x 4 threads), production settings: Argon2id, "
            "verification e-mail over SMTP to a local sink, schema from the template snapshot",
            "samples_per_phase": SAMPLES,
            "emails_accepted_by_smtp": sink.messages,
            "phases": phases,
            "goal_met": all(
                p["signup_answered_seconds"]["p95"] <= GOAL_P95_SECONDS for p in phases
            ),
            "holds_with_networks_present": max(held) if held else 0,
        },
    )
