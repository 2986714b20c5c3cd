"""The Citus tests' database: a test database of its own on the coordinator named by
CITUS_DATABASE_URL and on each of that coordinator's workers, with the extension and the workers
registered, before Django migrates it (scripts/citus_local.sh makes such a cluster locally).

Without CITUS_DATABASE_URL nothing here changes and the tests marked `citus` are skipped. With it,
the session's test database lives on the coordinator: run `pytest tests/citus -m citus`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import dj_database_url
import psycopg2
import pytest
from django.conf import settings

CITUS_DATABASE_URL = os.environ.get("CITUS_DATABASE_URL", "")
TEST_NAME = f"test_citus_{os.getpid()}"

if CITUS_DATABASE_URL:
    # Settings are read once at start-up; no connection has been opened yet at collection, so the
    # default database is pointed at the coordinator in place.
    _target = dj_database_url.parse(CITUS_DATABASE_URL)
    _default = settings.DATABASES["default"]
    for _key in ("NAME", "USER", "PASSWORD", "HOST", "PORT"):
        _default[_key] = _target[_key]
    _default.setdefault("TEST", {})["NAME"] = TEST_NAME


def _connect(*, host: str, port: int, dbname: str) -> Any:
    db = settings.DATABASES["default"]
    conn = psycopg2.connect(
        host=host, port=port, dbname=dbname, user=db["USER"], password=db["PASSWORD"] or None
    )
    conn.autocommit = True
    return conn


def _coordinator() -> tuple[str, int]:
    db = settings.DATABASES["default"]
    return str(db["HOST"] or "127.0.0.1"), int(db["PORT"] or 5432)


def _workers() -> list[tuple[str, int]]:
    host, port = _coordinator()
    with (
        contextlib.closing(
            _connect(host=host, port=port, dbname=settings.DATABASES["default"]["NAME"])
        ) as conn,
        conn.cursor() as cursor,
    ):
        cursor.execute("SELECT node_name, node_port FROM citus_get_active_worker_nodes()")
        return [(str(h), int(p)) for h, p in cursor.fetchall()]


def _database_drop(host: str, port: int) -> None:
    with contextlib.closing(_connect(host=host, port=port, dbname="postgres")) as conn:
        conn.cursor().execute(f'DROP DATABASE IF EXISTS "{TEST_NAME}" WITH (FORCE)')


def _database_create(host: str, port: int) -> None:
    _database_drop(host, port)
    with contextlib.closing(_connect(host=host, port=port, dbname="postgres")) as conn:
        conn.cursor().execute(f'CREATE DATABASE "{TEST_NAME}"')
    with contextlib.closing(_connect(host=host, port=port, dbname=TEST_NAME)) as conn:
        conn.cursor().execute("CREATE EXTENSION citus")


@pytest.fixture(scope="session")
def django_db_keepdb(request) -> bool:
    # The database below is made by hand (Citus 12.1 does not propagate CREATE DATABASE), so
    # Django keeps it, migrates it, and this conftest drops it.
    return bool(CITUS_DATABASE_URL) or request.config.getvalue("reuse_db")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> Iterator[None]:
    if not CITUS_DATABASE_URL:
        yield
        return
    coordinator, workers = _coordinator(), _workers()
    assert len(workers) >= 2, "the Citus tests need a coordinator with two workers"
    for host, port in [coordinator, *workers]:
        _database_create(host, port)
    with contextlib.closing(
        _connect(host=coordinator[0], port=coordinator[1], dbname=TEST_NAME)
    ) as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT citus_set_coordinator_host(%s, %s)", list(coordinator))
        for host, port in workers:
            cursor.execute("SELECT citus_add_node(%s, %s)", [host, port])
    yield
    for host, port in [coordinator, *workers]:
        _database_drop(host, port)


@pytest.fixture(scope="session", autouse=True)
def _personas_signed_up_first(request) -> None:
    """Networks A and B one right after the other, whatever order the tests run in: Citus places
    each new schema on the next worker in turn, so two consecutive sign-ups land apart."""
    if CITUS_DATABASE_URL:
        request.getfixturevalue("net_a")
        request.getfixturevalue("net_b")
