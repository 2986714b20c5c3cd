"""The Celery app. Tasks carry their network's schema (tenant-schemas-celery); see tasks.py.

The broker is Redis unless CELERY_BROKER_URL names RabbitMQ (amqp://, amqps://): then the queue is
a durable quorum queue, every publish is confirmed, and a countdown waits in RabbitMQ (native
delayed delivery), not in a worker's memory. Results and the cache stay on Redis either way.
deploy/SCALING.md, "Celery past one Redis", tells when and how to switch.
"""

from __future__ import annotations

import math
import os
from datetime import datetime
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "franchise_platform.settings.dev")

from celery.signals import task_postrun, task_prerun
from celery.utils.quorum_queues import detect_quorum_queues
from celery.utils.time import subtract_datetimes
from django.db import close_old_connections
from kombu.common import Broadcast
from kombu.connection import Connection
from kombu.transport.native_delayed_delivery import (
    bind_queue_to_native_delayed_delivery_exchange,
    declare_native_delayed_delivery_exchanges_and_queues,
)
from tenant_schemas_celery.app import CeleryApp

# What RabbitMQ needs on top of the settings (which are written for Redis).
RABBITMQ_CONF: dict[str, Any] = {
    # Replicated (Raft) and durable: a queued payment wake-up survives a broker node's loss.
    "task_default_queue_type": "quorum",
    "task_create_missing_queue_type": "quorum",
    # Native delayed delivery hands a countdown's message back to the task's exchange through
    # RabbitMQ's celery_delayed_* topic exchanges; it cannot do so for a direct exchange, and the
    # worker would then hold the message until its ETA, taking one of its fixed prefetch slots.
    "task_default_exchange_type": "topic",
    "task_create_missing_queue_exchange_type": "topic",
    "broker_native_delayed_delivery_queue_type": "quorum",
    # Quorum queues have no global QoS: per-consumer prefetch (Celery's detection, kept explicit).
    "worker_detect_quorum_queues": True,
    # A publish returns once RabbitMQ holds the message; a refused one raises instead of being
    # lost. This replaces the Redis-only visibility_timeout: RabbitMQ redelivers an unacked
    # message when its consumer's connection drops, not after a timeout.
    "broker_transport_options": {"confirm_publish": True},
}


def broker_is_rabbitmq(url: str) -> bool:
    """amqp://, amqps://, pyamqp:// (one or several failover URLs separated by ';')."""
    return bool(url) and Connection(url).transport.driver_type == "amqp"  # type: ignore[no-untyped-call]


def _broker_specific(sender: PlatformCelery, source: Any, **_: object) -> None:
    if broker_is_rabbitmq(source.broker_url):
        source.update(RABBITMQ_CONF)


def _whole_seconds_ahead(countdown: float | None, eta: datetime | str | None, now: datetime) -> int:
    """The delay in whole seconds, rounded up: RabbitMQ delays by whole seconds (Celery truncates,
    and refuses a delay under one second outright, e.g. the outbox's 0.25 s wake-up spacing)."""
    if countdown is None and eta is not None:
        countdown = subtract_datetimes(
            datetime.fromisoformat(eta) if isinstance(eta, str) else eta, now
        )
        countdown = countdown.total_seconds()  # type: ignore[union-attr]
    return max(math.ceil(countdown or 0), 0)


class PlatformCelery(CeleryApp):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._native_delays: bool | None = None
        self._delay_topology_ready = False
        self.on_after_configure.connect(_broker_specific, weak=False)

    def native_delays(self) -> bool:
        """True on RabbitMQ with quorum queues: countdowns go through native delayed delivery."""
        if self._native_delays is None:
            driver = self.connection_for_write().transport.driver_type
            self._native_delays = detect_quorum_queues(self, driver)[0]
        return self._native_delays

    def send_task(self, name: str, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        countdown, eta = options.pop("countdown", None), options.pop("eta", None)
        if (countdown or eta) and self.native_delays():
            # The message carries its ETA rounded up, so it reaches a worker already due.
            countdown, eta = _whole_seconds_ahead(countdown, eta, self.now()) or None, None
            if countdown:
                self._delay_topology_ensure()
        return super().send_task(name, args, kwargs, countdown=countdown, eta=eta, **options)

    def _delay_topology_ensure(self) -> None:
        """The delayed-delivery exchanges and our queues' bindings, as a worker declares them at
        start: a web process may queue a countdown before any worker ever ran on this broker (a
        publish to the missing exchange would fail). Declarations are idempotent; once a process."""
        if self._delay_topology_ready:
            return
        with self.connection_for_write() as connection:
            connection.ensure_connection(max_retries=3)
            declare_native_delayed_delivery_exchanges_and_queues(
                connection, self.conf.broker_native_delayed_delivery_queue_type
            )
            for queue in self.amqp.queues.values():
                if isinstance(queue, Broadcast):
                    continue
                queue.bind(connection.default_channel).declare()
                bind_queue_to_native_delayed_delivery_exchange(connection, queue)
        self._delay_topology_ready = True


def app_create(*, broker_url: str | None = None, set_as_current: bool = True) -> PlatformCelery:
    """The app from Django's CELERY_* settings; `broker_url` overrides CELERY_BROKER_URL (tests
    talk to a RabbitMQ of their own this way)."""
    celery_app = PlatformCelery("franchise_platform", set_as_current=set_as_current)
    celery_app.config_from_object("django.conf:settings", namespace="CELERY")
    celery_app.conf.task_default_queue = "default"
    if broker_url:
        celery_app.conf.broker_url = broker_url
    return celery_app


app = app_create()
app.autodiscover_tasks(
    [
        "franchise_platform",
        "franchise_platform.payments",
        "franchise_platform.crm_sync",
        "franchise_platform.network",
        "franchise_platform.royalties",
        "franchise_platform.reporting",
        "tenants",
    ]
)


def _connections_like_a_request(sender: object = None, **_: object) -> None:
    """Before and after each task, what Django does around a web request: drop a connection that
    is broken or older than CONN_MAX_AGE, keep the rest. Celery's Django fixup would otherwise
    close every connection around every task (see CELERY_DB_REUSE_MAX in settings). Not for a
    task run eagerly: it runs inside its caller, whose transaction must stay open."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    close_old_connections()


task_prerun.connect(_connections_like_a_request, weak=False, dispatch_uid="fp_db_prerun")
task_postrun.connect(_connections_like_a_request, weak=False, dispatch_uid="fp_db_postrun")
