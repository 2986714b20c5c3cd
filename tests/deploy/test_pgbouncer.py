"""Network isolation through a real PgBouncer in SESSION mode (deploy/SCALING.md).

django-tenants selects a network with `SET search_path` on the connection. With session pooling
one client connection owns one server connection until it disconnects, and the server connection
is reset (DISCARD ALL) before the next client gets it. The test runs many concurrent "requests"
alternating networks A and B through the pooler, with fewer server connections than clients so
server connections are handed from client to client, and checks every answer: the schema in use
and a canary row (the network's owner) must be the requested network's. A second test shows
why transaction pooling is refused: there, one client's search_path leaks into another's query.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import random
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings
from django.db import connections

from .support import Proc, free_port, pg_params

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
ALIAS = "via_pgbouncer"


def _pgbouncer_dir() -> Path:
    """A directory the pgbouncer process can write (it refuses to run as root, so as root it is
    started with -u postgres)."""
    path = Path(tempfile.mkdtemp(prefix="fp-pgbouncer-"))
    path.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(path, user.pw_uid, user.pw_gid)
    return path


@contextlib.contextmanager
def pgbouncer(*, pool_mode: str, pool_size: int) -> Iterator[int]:
    """Our own pgbouncer on a free port in front of the test database; stopped afterwards."""
    if not Path(PGBOUNCER).exists():
        pytest.fail("pgbouncer is not installed: `make test` installs it (scripts/lib.sh).")
    db = pg_params()
    name = settings.DATABASES["default"]["NAME"]
    port = free_port()
    workdir = _pgbouncer_dir()
    (workdir / "userlist.txt").write_text(f'"{db["user"]}" ""\n')
    (workdir / "pgbouncer.ini").write_text(
        f"""[databases]
{name} = host={db["host"]} port={db["port"]} dbname={name}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {workdir}/userlist.txt
pool_mode = {pool_mode}
default_pool_size = {pool_size}
max_client_conn = 200
server_reset_query = DISCARD ALL
logfile = {workdir}/pgbouncer.log
pidfile = {workdir}/pgbouncer.pid
"""
    )
    args = [PGBOUNCER]
    if os.geteuid() == 0:
        args += ["-u", "postgres"]
    args.append(str(workdir / "pgbouncer.ini"))
    proc = Proc(f"pgbouncer-{pool_mode}", args, env=dict(os.environ))
    try:
        proc.wait_for(
            lambda: bool(
                psycopg2.connect(
                    host="127.0.0.1", port=port, user=db["user"], dbname=name, connect_timeout=2
                ).close()
                is None
            ),
            timeout=15,
            what="a connection through pgbouncer",
        )
        yield port
    finally:
        proc.stop(grace=5)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def bouncer_alias(django_db_blocker) -> Iterator[str]:
    """A Django database alias for the test database, reached through PgBouncer (session mode,
    3 server connections for 8 client threads)."""
    with pgbouncer(pool_mode="session", pool_size=3) as port:
        config = dict(connections.settings["default"])
        config.update(HOST="127.0.0.1", PORT=str(port), CONN_MAX_AGE=0, CONN_HEALTH_CHECKS=False)
        connections.settings[ALIAS] = config
        try:
            with django_db_blocker.unblock():
                yield ALIAS
        finally:
            with contextlib.suppress(Exception):
                connections[ALIAS].close()
            connections.settings.pop(ALIAS, None)


def test_concurrent_requests_alternating_networks_never_read_the_other_network(
    net_a, net_b, bouncer_alias
):
    from franchise_platform.accounts.models import Role, User

    expected = {net.network.schema_name: (net.network, net.owner.email) for net in (net_a, net_b)}
    schemas = sorted(expected)
    mismatches: list[str] = []
    served = []
    lock = threading.Lock()

    def request(worker: int, i: int) -> None:
        schema = schemas[(worker + i) % 2]  # neighbours ask for the other network
        network, owner = expected[schema]
        conn = connections[bouncer_alias]
        conn.set_tenant(network)
        with conn.cursor() as cursor:
            cursor.execute("SELECT current_schema(), pg_backend_pid()")
            current, backend = cursor.fetchone()
        owners = list(
            User.objects.using(bouncer_alias)
            .filter(role=Role.OWNER)
            .values_list("email", flat=True)
        )
        with lock:
            served.append(backend)
            if current != schema or owners != [owner]:
                mismatches.append(f"asked {schema}, got schema {current} and owners {owners}")
        # End of "request": most close (CONN_MAX_AGE=0), so the server connection goes back to
        # the pool and the next client inherits it; some keep it for the next request.
        if random.random() < 0.8:
            conn.close()

    def worker_loop(worker: int) -> None:
        try:
            for i in range(40):
                request(worker, i)
        finally:
            connections[bouncer_alias].close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(worker_loop, range(8)))

    assert len(served) == 8 * 40
    assert not mismatches, mismatches[:5]
    # 320 requests were served by at most the pool's 3 server connections: they were handed
    # from client to client (what makes a leak possible at all).
    assert len(set(served)) <= 3


def test_transaction_pooling_would_leak_the_search_path(net_a):
    """Why SCALING.md refuses transaction pooling: a `SET search_path` made by one client stays
    on the server connection that the pooler then gives to another client."""
    schema = net_a.network.schema_name
    db = pg_params()
    name = settings.DATABASES["default"]["NAME"]
    with pgbouncer(pool_mode="transaction", pool_size=1) as port:
        first = psycopg2.connect(host="127.0.0.1", port=port, user=db["user"], dbname=name)
        second = psycopg2.connect(host="127.0.0.1", port=port, user=db["user"], dbname=name)
        first.autocommit = second.autocommit = True
        try:
            with first.cursor() as cursor:
                cursor.execute(f'SET search_path = "{schema}", public')
            with second.cursor() as cursor:
                cursor.execute("SELECT current_schema()")
                leaked = cursor.fetchone()[0]
        finally:
            first.close()
            second.close()
    assert leaked == schema  # the second client sees the first client's network
