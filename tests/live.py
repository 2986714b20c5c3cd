"""The live stack for end-to-end tests: the fakes of Robokassa and amoCRM, a real gunicorn serving
the app on the test database, and the environment a real Celery worker needs to reach them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.fakes.loopback import loopback_client
from tests.worker import LOG_DIR, ROOT, worker_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return f"http://localhost:{self.port}"

    def client(self) -> httpx.Client:
        """A client that reaches both the platform host and `<slug>.localhost` network hosts."""
        return loopback_client(base_url=self.base_url, timeout=30, follow_redirects=False)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def stack_env(*, port: int, robokassa, amo) -> dict[str, str]:
    """What the server and the worker both need: the fakes' addresses and short sweep delays."""
    return {
        **worker_env(),
        "PLATFORM_BASE_URL": f"http://localhost:{port}",
        "ROBOKASSA_PAYMENT_URL": robokassa.payment_url,
        "ROBOKASSA_API_BASE_URL": robokassa.api_base_url,
        "AMOCRM_API_BASE_URL": amo.base_url,
        "SWEEP_GRACE_SECONDS": "2",
        "OUTBOX_LEASE_SECONDS": "8",
        "RECONCILE_AFTER_MINUTES": "0",
    }


def start_server(
    env: dict[str, str], port: int, *, workers: int = 3, threads: int = 8
) -> LiveServer:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = (LOG_DIR / "live-server.log").open("wb")
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "franchise_platform.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("live server exited; see tests/artifacts/live-server.log")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return LiveServer(port, proc)
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("live server did not answer /healthz within 60 s")


def wait_for(predicate, *, timeout: float = 30, interval: float = 0.2, what: str = "condition"):
    """Poll until `predicate()` is truthy; returns its value or fails with `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def max_rps_since(amo, account_id: int, since: float) -> int:
    """Most /api/v4 requests of the account that reached the fake in any 1-second window after
    `since` (time.monotonic()). The OAuth exchange's account lookup happens before the account is
    known, so it cannot be rate-limited per account; measurements start after the connect."""
    times = sorted(
        r.at
        for r in list(amo.requests)
        if r.account_id == account_id and r.path.startswith("/api/v4") and r.at >= since
    )
    best = start = 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


__all__ = [
    "LiveServer",
    "free_port",
    "max_rps_since",
    "os",
    "stack_env",
    "start_server",
    "wait_for",
]
