"""Celery on RabbitMQ (deploy/SCALING.md, "Celery past one Redis"): a real worker on a vhost of
this run's own, quorum queues, confirmed publishes, countdowns held by RabbitMQ (native delayed
delivery) and a message that outlives a worker killed mid-task. Results stay on the test Redis.

Skipped, saying why, when no RabbitMQ answers (TEST_RABBITMQ_URL, default the local one) or when
rabbitmqctl is not there to make the vhost; `make test` starts an installed RabbitMQ
(scripts/lib.sh ensure_rabbitmq)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import unquote, urlsplit

import psycopg2
import pytest
from django.conf import settings
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone
from django_tenants.utils import tenant_context
from kombu import Connection

from crm_connectors.errors import CrmRateLimited
from franchise_platform import celery as celery_module
from franchise_platform.crm_sync import tasks as crm_tasks  # noqa: F401 - registers outbox_send
from franchise_platform.crm_sync.models import OutboxKind, OutboxMessage, OutboxStatus
from franchise_platform.crm_sync.sender import _failed, outbox_wake_spread
from franchise_platform.crm_sync.tasks import outbox_send
from franchise_platform.health import HealthCheckMiddleware
from franchise_platform.tasks import whoami
from tests.live import wait_for
from tests.worker import WorkerProcess, worker_env

pytestmark = [pytest.mark.worker]

RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672").rstrip("/")


def _ctl(*args: str) -> str:
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {args[0]}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


@contextlib.contextmanager
def _vhost(suffix: str = "") -> Iterator[str]:
    """A vhost of this run (nothing shared with another run or a developer's queues)."""
    parts = urlsplit(RABBITMQ_URL)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 2).close()
    except OSError:
        pytest.skip(f"RabbitMQ is not reachable at {parts.hostname}:{parts.port or 5672}")
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed: it makes the test's own vhost")
    name = f"fp_test_{os.getpid()}{suffix}"
    try:
        _ctl("add_vhost", name)
        _ctl("set_permissions", "-p", name, unquote(parts.username or "guest"), ".*", ".*", ".*")
    except RuntimeError as exc:
        pytest.skip(f"cannot make a RabbitMQ vhost for the test: {exc}")
    try:
        yield name
    finally:
        _ctl("delete_vhost", name)


@pytest.fixture(scope="module")
def vhost() -> Iterator[str]:
    with _vhost() as name:
        yield name


@pytest.fixture(scope="module")
def rabbit_app(vhost: str) -> Iterator[celery_module.PlatformCelery]:
    """The production app on this vhost, current for the module: the code under test queues with
    its plain `task.delay()` / `apply_async()`, as in production."""
    rabbit = celery_module.app_create(broker_url=f"{RABBITMQ_URL}/{vhost}", set_as_current=False)
    rabbit.set_current()
    yield rabbit
    celery_module.app.set_current()
    rabbit.close()


@pytest.fixture(scope="module")
def rabbit_worker(rabbit_app, vhost: str) -> Iterator[WorkerProcess]:
    env = {**worker_env(), "TEST_CELERY_BROKER_URL": rabbit_app.conf.broker_url}
    worker = WorkerProcess(name="rabbit", concurrency=1, env=env, app=rabbit_app).start()
    yield worker
    worker.stop()


@pytest.fixture
def outbox_rows(net_a, django_db_blocker) -> Iterator[list[OutboxMessage]]:
    """Committed outbox rows of network A without a CRM connection: a worker that gets to one
    parks it (retry_since set) instead of calling a CRM, which tells the test when it ran."""
    tag = uuid.uuid4().hex[:8]
    with django_db_blocker.unblock(), tenant_context(net_a.network):
        rows = [
            OutboxMessage.objects.create(
                kind=OutboxKind.FIELDS_SYNC,
                dedupe_key=f"rabbit-{tag}-{i}",
                status=OutboxStatus.PENDING,
                next_attempt_at=timezone.now(),
            )
            for i in range(4)
        ]
    with django_db_blocker.unblock():
        yield rows
        with tenant_context(net_a.network):
            OutboxMessage.objects.filter(dedupe_key__startswith=f"rabbit-{tag}-").delete()


def _ran(rows: list[OutboxMessage]) -> bool:
    parked = OutboxMessage.objects.filter(pk__in=[r.pk for r in rows], retry_since__isnull=False)
    return parked.count() == len(rows)


def _ready(vhost_url: str, queue: str) -> int:
    with Connection(vhost_url) as broker:
        _, ready, _ = broker.default_channel.queue_declare(queue, passive=True)
        return int(ready)


def test_rabbitmq_broker_gets_quorum_queues_confirms_and_no_visibility_timeout(rabbit_app):
    conf = rabbit_app.conf
    queue = rabbit_app.amqp.queues["default"]
    assert queue.queue_arguments == {"x-queue-type": "quorum"} and queue.durable
    assert queue.exchange.type == "topic"  # native delayed delivery cannot reach a direct one
    assert conf.broker_transport_options == {"confirm_publish": True}
    assert conf.task_acks_late is True and conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.result_backend == settings.REDIS_URL  # results stay on Redis
    if not os.environ.get("TEST_CELERY_BROKER_URL"):  # Redis stays the default broker
        assert celery_module.app.conf.broker_url == settings.REDIS_URL
        assert not celery_module.app.native_delays()
        assert celery_module.app.conf.broker_transport_options["visibility_timeout"] >= 3600


@pytest.mark.parametrize(
    ("countdown", "eta_in", "whole"),
    [
        (0.25, None, 1),
        (2.0, None, 2),
        (2.5, None, 3),
        (0, None, 0),
        (-3, None, 0),
        (None, 1.2, 2),
        (None, -5.0, 0),
        (None, "iso:1.2", 2),
    ],
)
def test_native_delays_are_whole_seconds_rounded_up(countdown, eta_in, whole):
    now = timezone.now()
    eta = None
    if isinstance(eta_in, str):
        eta = (now + timedelta(seconds=float(eta_in[4:]))).isoformat()
    elif eta_in is not None:
        eta = now + timedelta(seconds=eta_in)
    assert celery_module._whole_seconds_ahead(countdown, eta, now) == whole


def test_a_task_runs_in_its_network_and_the_queues_are_quorum_queues(
    net_a, rabbit_worker, rabbit_app, vhost
):
    with tenant_context(net_a.network):
        seen = whoami.delay("amqp").get(timeout=30)
    assert seen["schema"] == net_a.network.schema_name and seen["marker"] == "amqp"

    listed = _ctl("list_queues", "-p", vhost, "name", "type", "durable", "--no-table-headers")
    queues = {name: (kind, durable) for name, kind, durable in map(str.split, listed.splitlines())}
    assert queues["default"] == ("quorum", "true")
    # The worker declared RabbitMQ's delay levels (2^0 … 2^27 s), quorum queues too.
    assert {queues[f"celery_delayed_{level}"][0] for level in range(28)} == {"quorum"}
    # Publishes wait for RabbitMQ's confirm.
    with rabbit_app.producer_or_acquire() as producer:
        assert producer.channel.connection.confirm_publish is True


def test_a_countdown_waits_in_rabbitmq_and_runs_after_its_delay(net_a, rabbit_worker, rabbit_app):
    queued = time.monotonic()
    with tenant_context(net_a.network):
        result = whoami.apply_async(args=["later"], countdown=3)
    # 3 s = 0b11: the first 2 s in level 1, then 1 s in level 0; not held in a worker's memory.
    wait_for(
        lambda: _ready(rabbit_app.conf.broker_url, "celery_delayed_1") == 1,
        timeout=1.5,
        interval=0.05,
        what="the message in RabbitMQ's 2-second delay queue",
    )
    assert result.get(timeout=30)["marker"] == "later"
    assert time.monotonic() - queued >= 3


def test_a_countdown_queued_before_any_worker_ran_is_kept(net_a):
    """A web process may queue a countdown on a broker no worker has declared the delay
    exchanges on yet (a first deploy): the publish declares them instead of failing."""
    with _vhost("_cold") as cold:
        producer = celery_module.app_create(
            broker_url=f"{RABBITMQ_URL}/{cold}", set_as_current=False
        )
        try:
            with tenant_context(net_a.network):
                producer.send_task("franchise_platform.whoami", args=["cold"], countdown=5)
            # 5 s = 0b101: waiting in the 4-second level; reaches `default` afterwards.
            wait_for(
                lambda: _ready(producer.conf.broker_url, "celery_delayed_2") == 1,
                timeout=3,
                interval=0.05,
                what="the message in RabbitMQ's 4-second delay queue",
            )
        finally:
            producer.close()


def test_the_outbox_backoff_runs_the_retry_after_its_delay(
    net_a, rabbit_worker, outbox_rows, settings
):
    """The sender's own backoff path (sender._failed): the row is due in 2 s and its wake-up is
    queued with that countdown; a wake-up delivered early would find the row not due and leave it."""
    settings.OUTBOX_BACKOFF_BASE_SECONDS = 1
    row = outbox_rows[0]
    with tenant_context(net_a.network):
        OutboxMessage.objects.filter(pk=row.pk).update(attempts=1)
        message = OutboxMessage.objects.get(pk=row.pk)
        _failed(message, CrmRateLimited("slow down", retry_after=2), not_before=None)
        due = OutboxMessage.objects.get(pk=row.pk).next_attempt_at
        assert due is not None and due >= timezone.now() + timedelta(seconds=1)
        wait_for(lambda: _ran([row]), timeout=30, what="the retry after the backoff")
        ran = OutboxMessage.objects.get(pk=row.pk).retry_since
    assert ran is not None and ran >= due


def test_the_outbox_wake_spread_with_sub_second_countdowns_delivers_every_row(
    net_a, rabbit_worker, outbox_rows
):
    """outbox_wake_spread spaces wake-ups 1/AMOCRM_BACKGROUND_RATE_PER_SECOND apart (0.25 s):
    Celery refuses a native delay under one second, so those countdowns are rounded up."""
    with tenant_context(net_a.network):
        outbox_wake_spread(message_ids=[r.pk for r in outbox_rows], now=timezone.now())
        wait_for(lambda: _ran(outbox_rows), timeout=30, what="every woken row")


def test_a_task_survives_a_worker_killed_mid_task(net_a, rabbit_worker, outbox_rows):
    """acks late: the message is acknowledged after the task, so RabbitMQ hands it to the next
    worker when the killed one's connection drops (no visibility timeout to wait out)."""
    row = outbox_rows[0]
    db = settings.DATABASES["default"]
    locker = psycopg2.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=connection.settings_dict["NAME"],
    )
    try:
        with locker.cursor() as cur:  # holds the row, so the task stops at its claim (UPDATE)
            table = f'"{net_a.network.schema_name}"."{OutboxMessage._meta.db_table}"'
            cur.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", [str(row.pk)])
        with tenant_context(net_a.network):
            outbox_send.delay(str(row.pk))
        blocked_sql = "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))"

        def blocked() -> list[int]:
            with connection.cursor() as cursor:
                cursor.execute(blocked_sql, [locker.get_backend_pid()])
                return [pid for (pid,) in cursor.fetchall()]

        pids = wait_for(blocked, timeout=30, interval=0.1, what="the task blocked mid-task")
        rabbit_worker.kill()
        with connection.cursor() as cursor:  # the dead worker's statement must not finish later
            for pid in pids:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        locker.rollback()
        locker.close()
    with tenant_context(net_a.network):
        assert OutboxMessage.objects.get(pk=row.pk).retry_since is None
        rabbit_worker.start()
        wait_for(lambda: _ran([row]), timeout=30, what="the task redelivered to the new worker")


def test_healthz_checks_rabbitmq_when_it_is_the_broker(rabbit_app, settings, db):
    settings.CELERY_BROKER_URL = rabbit_app.conf.broker_url
    health = HealthCheckMiddleware(lambda request: None)  # type: ignore[arg-type,return-value]
    request = RequestFactory().get("/healthz", HTTP_HOST=settings.PLATFORM_DOMAIN)
    response = health(request)
    assert response.status_code == 200, response.content
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1/"  # nothing listens there
    response = health(request)
    assert response.status_code == 503 and b'"failing": ["broker"]' in response.content


def test_healthz_with_rabbitmq_still_checks_the_redis_of_the_cache(rabbit_app, settings, db):
    settings.CELERY_BROKER_URL = rabbit_app.conf.broker_url
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    health = HealthCheckMiddleware(lambda request: None)  # type: ignore[arg-type,return-value]
    response = health(RequestFactory().get("/healthz", HTTP_HOST=settings.PLATFORM_DOMAIN))
    assert response.status_code == 503 and b'"failing": ["cache"]' in response.content
