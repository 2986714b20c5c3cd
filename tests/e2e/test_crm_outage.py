"""amoCRM down for an hour, end to end (issue 13, item 6): a real gunicorn and a real Celery
worker whose sender reads a clock the test moves forward (tests/fakes/clock.py), and the fake
amoCRM answering 503 until that clock says an hour has passed. Nobody sleeps through the hour.

After the outage every change is in the leads exactly once (no note twice), nothing went dead on
the way, the account's circuit breaker let one probe at a time through instead of every message
burning requests, and the fake never saw more than the account's 7 requests per second.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import CrmConnection, OutboxMessage, OutboxStatus
from franchise_platform.tasks import sweep_all_networks
from tests.fakes.clock import ENV, SharedClock
from tests.live import max_rps_since, wait_for

from .test_lifecycle import _links, _setup

pytestmark = pytest.mark.worker

OUTAGE = 3600.0
STEP = 60.0  # clock seconds per step; the worker gets real time to act between steps


@pytest.fixture
def shifted_worker(celery_worker, tmp_path):
    """The session's worker, restarted with the shared test clock; restored after the test."""
    clock = SharedClock(tmp_path / "clock")
    original = dict(celery_worker.env)
    celery_worker.stop()
    celery_worker.env = {
        **original,
        "CRM_SYNC_CLOCK": "tests.fakes.clock.shared_now",
        ENV: str(clock.path),
    }
    celery_worker.start()
    try:
        yield clock
    finally:
        celery_worker.stop()
        celery_worker.env = original
        celery_worker.start()


def _sweep():
    """What beat runs every minute (the countdowns of the worker's retries are in real time)."""
    connection.set_schema_to_public()
    sweep_all_networks.delay()


def _in_flight(net, clock) -> bool:
    now = clock.now()
    with tenant_context(net.network()):
        return (
            OutboxMessage.objects.filter(status=OutboxStatus.PENDING, lease_until__gt=now).exists()
            or CrmConnection.objects.filter(breaker_probe_until__gt=now).exists()
        )


def _advance(net, clock, seconds: float) -> None:
    """Move the clock once no send is in flight (a jump must not expire a running probe's
    lease), then sweep."""
    wait_for(lambda: not _in_flight(net, clock), timeout=60, interval=0.1, what="sends settle")
    clock.shift(seconds)
    _sweep()
    time.sleep(0.3)  # real time for the worker to run what the sweep queued


def _payment_notes(net, lead_id):
    return [
        n["params"]["text"]
        for n in net.amo.notes(net.account_id, lead_id)
        if "получена" in n["params"]["text"]
    ]


def _outbox(net) -> dict[str, int]:
    with tenant_context(net.network()):
        return {
            status: OutboxMessage.objects.filter(status=status).count()
            for status in (OutboxStatus.PENDING, OutboxStatus.SENT, OutboxStatus.DEAD)
        }


def test_an_hour_of_amocrm_outage_loses_nothing_duplicates_nothing(live_network, shifted_worker):
    net, clock = live_network, shifted_worker
    _, _, baumana, _ = _setup(net)
    leads = [7301, 7302, 7303, 7304]
    links = {}
    for lead_id in leads:
        net.amo.set_lead(net.account_id, lead_id, 5000, location_enum_id=net.location_enum(baumana))
        response = net.widget("POST", lead_id)
        assert response.status_code == 200, response.text
        links[lead_id] = _links(response.json())
    for lead_id in leads:
        wait_for(
            lambda lead_id=lead_id: (
                links[lead_id]["full"]["url"]
                in net.amo.lead_values(net.account_id, lead_id).values()
            ),
            what="links in the lead before the outage",
        )

    started = time.monotonic()
    net.amo.fail_while(lambda: clock.offset() < OUTAGE, 503)
    try:
        for lead_id in leads:  # buyers keep paying while amoCRM is down
            net.pay(links[lead_id]["prepayment"]["url"])
        net.pay(links[leads[0]]["full"]["url"])
        with tenant_context(net.network()):
            wait_for(
                lambda: OutboxMessage.objects.filter(last_error__contains="503").exists(),
                what="the sender meeting the outage",
            )
        breaker_opened = False
        while clock.offset() < OUTAGE:
            _advance(net, clock, STEP)
            assert _outbox(net)[OutboxStatus.DEAD] == 0, "an update went dead during the outage"
            # Sampled during the outage: once the clock passes the hour, a probe may succeed and
            # close the breaker before the loop ends.
            with tenant_context(net.network()):
                breaker_opened = breaker_opened or (
                    CrmConnection.objects.get().breaker_open_since is not None
                )
        failed_requests = sum(
            1
            for r in list(net.amo.requests)
            if r.account_id == net.account_id and r.at >= started and r.status == 503
        )
        # An hour of 503 cost the few sends in flight when it began and the breaker's probes (at
        # most ~16 an hour with a 15-minute cap), each at most 3 requests with the client's own
        # retries; without the breaker every message would spend every backoff step.
        assert failed_requests <= 3 * (5 + 16), failed_requests
        assert breaker_opened, "the breaker never opened during the outage"

        def delivered():
            _advance(net, clock, STEP)  # backoffs elapse on the shifted clock
            return _outbox(net)[OutboxStatus.PENDING] == 0

        wait_for(delivered, timeout=240, interval=0.5, what="every update delivered after")
    finally:
        net.amo.clear_failures()

    counts = _outbox(net)
    assert counts[OutboxStatus.DEAD] == 0 and counts[OutboxStatus.SENT] > 0
    for lead_id in leads:
        expected_notes = 2 if lead_id == leads[0] else 1
        assert len(_payment_notes(net, lead_id)) == expected_notes, lead_id
    values = net.amo.lead_values(net.account_id, leads[0])
    assert values["Статус оплаты"] == "Оплачено"
    assert Decimal(str(values["Оплачено"])) == Decimal("5000")
    for lead_id in leads[1:]:
        assert Decimal(str(net.amo.lead_values(net.account_id, lead_id)["Оплачено"])) == Decimal(
            "1500"
        )
    assert max_rps_since(net.amo, net.account_id, started) <= 7
    with tenant_context(net.network()):
        crm = CrmConnection.objects.get()
        assert crm.breaker_open_since is None and crm.breaker_failures == 0
    # Later sweeps find nothing more to send: nothing trickles in twice.
    for _ in range(3):
        _advance(net, clock, STEP)
    assert len(_payment_notes(net, leads[0])) == 2
