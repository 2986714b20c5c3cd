# ruff: noqa: S603, S607, S108, SIM115
"""Measure what each role costs here: PostgreSQL and Redis connections per process, memory (RSS),
Redis bytes per queued task. The figures in deploy/SCALING.md come from this script.

    .venv/bin/python deploy/measure_footprint.py > deploy/measurements.json

It runs scripts/entrypoint.sh (production settings) against a scratch database and a scratch Redis
database, one role at a time, drives some traffic, reads pg_stat_activity, CLIENT LIST and ps, then
stops everything and drops the database.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg2
import redis
from celery import Celery

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = str(ROOT / "scripts" / "entrypoint.sh")
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
REDIS_DB = int(os.environ.get("MEASURE_REDIS_DB", "14"))
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
WEB_WORKERS = 3
WORKER_CHILDREN = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def admin(sql: str) -> None:
    conn = psycopg2.connect(dbname="postgres", **PG)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


def pg_connections(db: str) -> int:
    conn = psycopg2.connect(dbname="postgres", **PG)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [db],
        )
        count = int(cur.fetchone()[0])
    conn.close()
    return count


@contextlib.contextmanager
def peak_pg_connections(db: str) -> Iterator[dict[str, int]]:
    """The largest number of connections to `db` seen while the block runs (sampled every 20 ms)."""
    import threading

    seen = {"peak": 0}
    stop = threading.Event()

    def sample() -> None:
        conn = psycopg2.connect(dbname="postgres", **PG)
        conn.autocommit = True
        with conn.cursor() as cur:
            while not stop.is_set():
                cur.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                    "AND pid <> pg_backend_pid()",
                    [db],
                )
                seen["peak"] = max(seen["peak"], int(cur.fetchone()[0]))
                time.sleep(0.02)
        conn.close()

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()


def redis_clients() -> int:
    clients = redis.Redis.from_url(REDIS_URL).client_list()
    return sum(1 for c in clients if int(c.get("db", -1)) == REDIS_DB) - 1  # minus ourselves


def rss_mb(pgid: int) -> list[dict[str, object]]:
    out = subprocess.run(
        ["ps", "-o", "pid=,ppid=,rss=,args=", "--sid", str(pgid)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    rows = []
    for line in out.splitlines():
        pid, ppid, rss, args = line.split(None, 3)
        if "entrypoint.sh" in args:
            continue
        rows.append(
            {
                "pid": int(pid),
                "ppid": int(ppid),
                "rss_mb": round(int(rss) / 1024, 1),
                "cmd": args[:60],
            }
        )
    return rows


@contextlib.contextmanager
def role(name: str, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    log = open(f"/tmp/measure-{name}.log", "wb")
    proc = subprocess.Popen(
        [ENTRYPOINT, name],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(1)
        log.close()


def wait(check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.3)
    raise SystemExit("timed out")


def main() -> int:
    db = f"fp_measure_{uuid.uuid4().hex[:8]}"
    redis.Redis.from_url(REDIS_URL).flushdb()
    base_env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "franchise_platform.settings.prod",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db}",
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": uuid.uuid4().hex,
        "PLATFORM_ENCRYPTION_KEYS": "bWVhc3VyZS1mb290cHJpbnQta2V5LTMyLWJ5dGVzISE=",
        "AMOCRM_CLIENT_ID": "measure",
        "AMOCRM_CLIENT_SECRET": "measure",
        "PLATFORM_DOMAIN": "platform.test",
        "PLATFORM_BASE_URL": "https://platform.test",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_CREATE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    result: dict[str, object] = {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "settings": "production (CONN_MAX_AGE=60, sync gunicorn workers, prefork Celery)",
    }
    try:
        started = time.monotonic()
        subprocess.run(
            [ENTRYPOINT, "migrate"], env=base_env, cwd=ROOT, check=True, capture_output=True
        )
        result["migrate_fresh_database_seconds"] = round(time.monotonic() - started, 2)

        port = free_port()
        web_env = {
            **base_env,
            "PORT": str(port),
            "WEB_CONCURRENCY": str(WEB_WORKERS),
            "PROMETHEUS_MULTIPROC_DIR": f"/tmp/measure-prom-{db}",
        }
        base = f"http://127.0.0.1:{port}"
        with role("web", web_env) as web:
            wait(
                lambda: (
                    httpx.get(f"{base}/healthz", headers={"Host": "platform.test"}).status_code
                    == 200
                )
            )
            slugs = []
            for i in range(3):
                slug = f"m{i}{uuid.uuid4().hex[:6]}"
                t0 = time.monotonic()
                r = httpx.post(
                    f"{base}/api/v1/signup",
                    headers={"Host": "platform.test", "X-Forwarded-Proto": "https"},
                    json={
                        "network_name": "Замер",
                        "slug": slug,
                        "owner_email": f"o@{slug}.test",
                        "owner_password": "Measure-Footprint-42",
                    },
                    timeout=30,
                )
                assert r.status_code == 201, r.text
                slugs.append((slug, r.json()["api_token"], round(time.monotonic() - t0, 3)))
            result["signup_http_seconds"] = [s[2] for s in slugs]

            def hit(i: int) -> int:
                slug, token, _ = slugs[i % len(slugs)]
                return httpx.get(
                    f"{base}/api/v1/partners",
                    headers={
                        "Host": f"{slug}.platform.test",
                        "Authorization": f"Bearer {token}",
                        "X-Forwarded-Proto": "https",
                    },
                    timeout=30,
                ).status_code

            t0 = time.monotonic()
            with peak_pg_connections(db) as web_peak, ThreadPoolExecutor(8) as pool:
                codes = list(pool.map(hit, range(300)))
            elapsed = time.monotonic() - t0
            result["web_api_requests"] = {
                "n": len(codes),
                "ok": codes.count(200),
                "concurrency": 8,
                "requests_per_second": round(len(codes) / elapsed, 1),
            }
            time.sleep(1)
            result["web"] = {
                "gunicorn_workers": WEB_WORKERS,
                "postgres_connections_peak_under_load": web_peak["peak"],
                "postgres_connections_idle_after": pg_connections(db),
                "redis_connections": redis_clients(),
                "processes": rss_mb(web.pid),
            }

        worker_env = {**base_env, "WORKER_CONCURRENCY": str(WORKER_CHILDREN)}
        app = Celery(broker=REDIS_URL)
        with role("worker", worker_env) as worker:
            wait(lambda: "ready." in Path("/tmp/measure-worker.log").read_text())
            with peak_pg_connections(db) as worker_peak:
                t0 = time.monotonic()
                for i in range(200):
                    schema = slugs[i % len(slugs)][0].replace("-", "_")
                    app.send_task(
                        "franchise_platform.sweep_network",
                        queue="default",
                        headers={"_schema_name": schema},
                    )
                wait(lambda: redis.Redis.from_url(REDIS_URL).llen("default") == 0)
                wait(
                    lambda: (
                        Path("/tmp/measure-worker.log").read_text().count("sweep_network") >= 400
                    )
                )
                tasks_elapsed = time.monotonic() - t0
            time.sleep(2)
            result["worker"] = {
                "children": WORKER_CHILDREN,
                "sweep_network_tasks": 200,
                "sweep_network_tasks_per_second": round(200 / tasks_elapsed, 1),
                "postgres_connections_peak_while_busy": worker_peak["peak"],
                "postgres_connections_idle_after": pg_connections(db),
                "redis_connections": redis_clients(),
                "processes": rss_mb(worker.pid),
            }

        with role("beat", {**base_env, "BEAT_SCHEDULE_FILE": f"/tmp/measure-beat-{db}/s"}) as beat:
            wait(lambda: "Starting" in Path("/tmp/measure-beat.log").read_text())
            time.sleep(2)
            result["beat"] = {
                "postgres_connections_idle": pg_connections(db),
                "redis_connections": redis_clients(),
                "processes": rss_mb(beat.pid),
            }

        # Redis: bytes per queued task message (no worker consuming).
        client = redis.Redis.from_url(REDIS_URL)
        client.flushdb()
        before = int(client.info("memory")["used_memory"])
        for _ in range(2000):
            app.send_task(
                "payments.callback_apply",
                args=[str(uuid.uuid4())],
                queue="measure",
                headers={"_schema_name": "some_network"},
            )
        after = int(client.info("memory")["used_memory"])
        result["redis_bytes_per_queued_task"] = round((after - before) / 2000)
        client.flushdb()
    finally:
        admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
