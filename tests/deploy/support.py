"""Helpers for the deployment tests: scratch databases, processes that are always stopped, free
ports, and a virtual environment built the way deploy/Dockerfile builds the image's."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
from django.conf import settings
from psycopg2 import sql

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "deploy"
# Any 32-byte key for the scratch databases (never the test suite's or a real one).
MASTER_KEY = "ZGVwbG95LXRlc3RzLW1hc3Rlci1rZXktMzItYnl0ZXM="
# A broker database of the deploy tests' own for processes that publish or consume the default
# queue (beat, `all`), so they never touch the test suite's queue.
SCRATCH_REDIS_URL = os.environ.get("DEPLOY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@contextlib.contextmanager
def scratch_broker() -> Iterator[str]:
    """The deploy tests' own broker database, empty before and after."""
    import redis

    client = redis.Redis.from_url(SCRATCH_REDIS_URL)
    client.flushdb()
    try:
        yield SCRATCH_REDIS_URL
    finally:
        client.flushdb()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_params() -> dict[str, object]:
    db = settings.DATABASES["default"]
    return {
        "host": db.get("HOST") or "127.0.0.1",
        "port": int(db.get("PORT") or 5432),
        "user": db.get("USER") or "postgres",
        "password": db.get("PASSWORD") or None,
    }


def database_url(name: str) -> str:
    p = pg_params()
    auth = str(p["user"]) + (f":{p['password']}" if p["password"] else "")
    return f"postgres://{auth}@{p['host']}:{p['port']}/{name}"


def _admin() -> psycopg2.extensions.connection:
    conn = psycopg2.connect(dbname="postgres", **pg_params())
    conn.autocommit = True
    return conn


def database_drop(name: str) -> None:
    with contextlib.closing(_admin()) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def scratch_database(prefix: str, *, create: bool = True) -> Iterator[str]:
    """A database name unique to this test, dropped afterwards whatever happens."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    if create:
        with contextlib.closing(_admin()) as conn, conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        database_drop(name)


def query(dbname: str, statement: str, params: list[object] | None = None) -> list[tuple]:
    with contextlib.closing(psycopg2.connect(dbname=dbname, **pg_params())) as conn:
        with conn.cursor() as cur:
            cur.execute(statement, params or [])
            return cur.fetchall() if cur.description else []


class Proc:
    """A process in its own session (so its children are found by group), logging to a file,
    always stopped: SIGTERM to the group, then SIGKILL after `grace` seconds."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], cwd: Path = ROOT) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = ARTIFACTS / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, check: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited ({self.proc.returncode}) before {what}:\n{self.log()[-3000:]}"
                )
            with contextlib.suppress(Exception):
                if check():
                    return
            time.sleep(0.2)
        raise AssertionError(f"{self.name}: no {what} within {timeout} s:\n{self.log()[-3000:]}")

    def wait_for_exit(self, timeout: float = 30) -> int:
        """The process's exit code once it has exited by itself (AssertionError otherwise)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            left = subprocess.run(
                ["ps", "-ww", "-o", "pid=,stat=,wchan:20=,args=", "--sid", str(self.proc.pid)],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            raise AssertionError(
                f"{self.name} still running after {timeout} s:\n{left}\n{self.log()[-3000:]}"
            ) from None

    def group_alive(self) -> bool:
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        # Only zombies (or nothing) left of the group counts as gone.
        out = subprocess.run(
            ["ps", "-o", "stat=", "--sid", str(self.proc.pid)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        return any(not s.startswith("Z") for s in out)

    def stop(self, grace: float = 20) -> int | None:
        if self.proc.poll() is None or self.group_alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(grace)
            deadline = time.monotonic() + grace
            while self.group_alive() and time.monotonic() < deadline:
                time.sleep(0.2)
            if self.group_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode


@contextlib.contextmanager
def running(name: str, args: list[str], env: dict[str, str]) -> Iterator[Proc]:
    proc = Proc(name, args, env)
    try:
        yield proc
    finally:
        proc.stop()


def image_venv() -> Path:
    """A venv holding only what the image installs (deploy/runtime_requirements.py, pip
    --no-deps --require-hashes, pip check) and the image's .pth, built once per lock."""
    runtime = subprocess.run(
        [sys.executable, "deploy/runtime_requirements.py", "requirements.lock", "pyproject.toml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    digest = hashlib.sha256(runtime.encode()).hexdigest()[:12]
    venv = ROOT / ".local" / f"image-venv-{digest}"
    ready = venv / ".ready"
    if not ready.exists():
        # One rehearsal venv at a time: those of older locks go.
        for old in venv.parent.glob("image-venv-*"):
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        lock = venv.parent / f"image-venv-{digest}.lock"
        lock.write_text(runtime)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "pip"), "--disable-pip-version-check", "-q"]
        subprocess.run(
            [*pip, "install", "--no-deps", "--require-hashes", "-r", str(lock)],
            check=True,
            capture_output=True,
        )
        subprocess.run([*pip, "check"], check=True)
        purelib = subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        Path(purelib, "franchise_platform_paths.pth").write_text(f"{ROOT / 'platform'}\n{ROOT}\n")
        ready.write_text(digest)
    return venv


def role_env(*, database: str, venv: Path | None, **extra: str) -> dict[str, str]:
    """The environment a container of the image gets (prod settings), pointed at `database`."""
    keep = {
        k: v for k, v in os.environ.items() if k in {"PATH", "LANG", "LC_ALL", "HOME", "TMPDIR"}
    }
    env = {
        **keep,
        "DJANGO_SETTINGS_MODULE": "franchise_platform.settings.prod",
        "DATABASE_URL": database_url(database),
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": "deploy-test-" + uuid.uuid4().hex,
        "PLATFORM_ENCRYPTION_KEYS": MASTER_KEY,
        "AMOCRM_CLIENT_ID": "deploy-test",
        "AMOCRM_CLIENT_SECRET": "deploy-test-secret",
        "PLATFORM_DOMAIN": "platform.test",
        "PLATFORM_BASE_URL": "https://platform.test",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    if venv is not None:
        env["VENV"] = str(venv)
    return env


def host_of(url: str) -> str:
    return urlsplit(url).hostname or ""
