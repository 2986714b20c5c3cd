"""Shared plumbing for benchmarks: a dedicated database, Django setup, figures to bench/results/."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
BENCH_DB = os.environ.get("BENCH_DATABASE_NAME", "franchise_bench")


def setup_django(*, fresh: bool) -> None:
    """Point Django at the benchmark database (recreated when `fresh`) and migrate it."""
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        if fresh:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DB))
            )
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB])
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))
    conn.close()
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "franchise_platform.settings.test")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate_schemas", interactive=False, verbosity=0)
    call_command("platform_setup", verbosity=0)
    # Benchmarks measure the production password hasher, not the test suite's fast one.
    from django.conf import settings
    from django.test import override_settings

    from franchise_platform.settings import base

    override_settings(PASSWORD_HASHERS=base.PASSWORD_HASHERS).enable()
    assert settings.PASSWORD_HASHERS[0].endswith("OwaspArgon2PasswordHasher")


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    start = time.perf_counter()
    elapsed: list[float] = []
    yield lambda: elapsed[0] if elapsed else time.perf_counter() - start
    elapsed.append(time.perf_counter() - start)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 4),
        "p95": round(percentile(values, 95), 4),
        "p99": round(percentile(values, 99), 4),
        "mean": round(statistics.fmean(values), 4) if values else float("nan"),
        "max": round(max(values), 4) if values else float("nan"),
    }


def write_result(name: str, figures: dict[str, object]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.system(),
        },
        **figures,
    }
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(payload, indent=2, ensure_ascii=False))
    return path
