"""A real Celery worker process for the tests, on the test database and a test Redis database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from celery import Celery
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = ROOT / "tests" / "artifacts"


def worker_env() -> dict[str, str]:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "franchise_platform.settings.test",
        "DATABASE_URL": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "TEST_REDIS_URL": settings.REDIS_URL,
        "PLATFORM_ENCRYPTION_KEYS": ",".join(settings.PLATFORM_ENCRYPTION_KEYS),
        "PYTHONUNBUFFERED": "1",
    }


class WorkerProcess:
    def __init__(
        self,
        *,
        concurrency: int = 2,
        name: str = "test",
        env: dict[str, str] | None = None,
        nice: int = 0,
        app: Celery | None = None,
    ) -> None:
        # `app`: the Celery app that pings the worker (one on the worker's broker, if not the
        # settings' broker: tests/foundation/test_broker_rabbitmq.py).
        self.app = app
        self.concurrency = concurrency
        self.nice = nice
        self.env = env
        self.name = name
        self.proc: subprocess.Popen[bytes] | None = None
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"celery-worker-{name}.log"

    def start(self) -> WorkerProcess:
        from franchise_platform.celery import app as default_app

        app = self.app or default_app
        celery_bin = str(Path(sys.executable).parent / "celery")
        # `nice`: background work below the web tier's CPU priority, as deploy/ runs it on one host.
        prefix = ["nice", "-n", str(self.nice)] if self.nice else []
        self.proc = subprocess.Popen(
            [
                *prefix,
                celery_bin,
                "-A",
                "franchise_platform",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(self.concurrency),
                "--pool",
                "prefork",
                "--hostname",
                f"{self.name}-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=self.env or worker_env(),
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"celery worker exited; see {self.log_path}")
            replies = app.control.ping(
                timeout=0.5, destination=[f"{self.name}-{os.getpid()}@{os.uname().nodename}"]
            )
            if replies:
                return self
        raise RuntimeError(f"celery worker did not answer within 60 s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL, as an OOM killer or a lost node would."""
        if self.proc and self.proc.poll() is None:
            subprocess.run(["pkill", "-KILL", "-P", str(self.proc.pid)], check=False)
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> WorkerProcess:
        self.stop()
        return self.start()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
