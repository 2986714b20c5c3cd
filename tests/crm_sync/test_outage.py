"""amoCRM down for a while: nothing goes dead before the retry window closes, one probe at a
time tests the account (its circuit breaker lives in the database), answers that may pass are
never final, and every change lands once afterwards (issue 13, item 6)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
import redis
from django.conf import settings as django_settings
from django.db.models import Q
from django_tenants.utils import tenant_context

from crm_connectors.amocrm.client import error_for_response
from crm_connectors.errors import CrmRateLimited, CrmUnavailable
from franchise_platform.crm_sync.breaker import Gate, breaker_admit, counts_against_crm
from franchise_platform.crm_sync.connectors import connector_for, field_map_of
from franchise_platform.crm_sync.models import CrmConnection, OutboxMessage, OutboxStatus
from franchise_platform.crm_sync.outbox import outbox_deal_state_enqueue, outbox_note_enqueue
from franchise_platform.crm_sync.sender import outbox_message_send
from franchise_platform.crm_sync.sweeping import outbox_requeue
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db


def _due_ids(clock) -> list[str]:
    now = clock.now()
    return [
        str(pk)
        for pk in OutboxMessage.objects.filter(
            status=OutboxStatus.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .values_list("pk", flat=True)
    ]


def _run_due(clock) -> int:
    """What the worker (and the sweeper behind it) does at this moment: send every due row."""
    due = _due_ids(clock)
    for pk in due:
        outbox_message_send(message_id=pk)
    return len(due)


def _changes(net, amo, account_id, leads):
    with tenant_context(net.network):
        for lead_id in leads:
            amo.set_lead(account_id, lead_id, 3000)
            deal = DealFactory(
                crm_deal_id=lead_id,
                total=Decimal("3000"),
                paid=Decimal("1500"),
                status="partially_paid",
            )
            outbox_note_enqueue(deal=deal, key=f"pay-{lead_id}", text=f"Оплата по сделке {lead_id}")
            outbox_deal_state_enqueue(deal=deal)


@pytest.fixture
def outage(connected, amo, clock, no_wakeups, instant_in_call_retries):
    """amoCRM answers 503 to everything until the test clock says an hour has passed."""
    amo.fail_while(lambda: clock.offset() < 3600, 503)
    yield connected
    amo.clear_failures()


def test_an_hour_of_503_leaves_nothing_dead_and_every_change_lands_once(outage, amo, clock):
    net, account_id, _ = outage
    leads = range(8101, 8106)
    _changes(net, amo, account_id, leads)
    before = len(amo.api_requests(account_id))

    with tenant_context(net.network):
        while clock.offset() < 3600:
            _run_due(clock)
            assert not OutboxMessage.objects.filter(status=OutboxStatus.DEAD).exists()
            clock.shift(20)
        during = len(amo.api_requests(account_id)) - before
        for _ in range(60):  # the CRM is back: within the backoff cap everything is delivered
            _run_due(clock)
            if not OutboxMessage.objects.exclude(status=OutboxStatus.SENT).exists():
                break
            clock.shift(20)
        statuses = set(OutboxMessage.objects.values_list("status", flat=True))
        crm = CrmConnection.objects.get()

    assert statuses == {OutboxStatus.SENT}
    for lead_id in leads:
        notes = [
            n for n in amo.notes(account_id, lead_id) if "Оплата по сделке" in n["params"]["text"]
        ]
        assert len(notes) == 1
        assert amo.lead_values(account_id, lead_id)["Статус оплаты"] == "Частично оплачено"
    # Ten changes over an hour: the breaker's probes, not 10 x every backoff step (each probe
    # is at most 3 requests with the client's own retries).
    assert during <= 3 * (django_settings.OUTBOX_BREAKER_THRESHOLD + 12)
    assert crm.breaker_open_since is None and crm.breaker_failures == 0
    assert amo.max_rps_seen(account_id) <= 7


def test_while_the_crm_fails_one_probe_at_a_time_tests_it(outage, amo, clock):
    net, account_id, _ = outage
    _changes(net, amo, account_id, range(8111, 8115))  # 8 messages
    with tenant_context(net.network):
        _run_due(clock)
        crm = CrmConnection.objects.get()
        assert crm.breaker_open_since is not None
        assert crm.breaker_probe_at > clock.now()
        failed = OutboxMessage.objects.exclude(last_error="").count()
        assert failed == django_settings.OUTBOX_BREAKER_THRESHOLD  # the rest were held untried
        calls = len(amo.api_requests(account_id))
        OutboxMessage.objects.update(next_attempt_at=clock.now())  # every wake-up at once
        _run_due(clock)
        assert len(amo.api_requests(account_id)) == calls  # held: nobody called amoCRM

        clock.shift((crm.breaker_probe_at - clock.now()).total_seconds() + 1)
        first = breaker_admit(connection=CrmConnection.objects.get(), now=clock.now())
        second = breaker_admit(connection=CrmConnection.objects.get(), now=clock.now())
        assert (first.gate, second.gate) == (Gate.PROBE, Gate.HOLD)
        assert not OutboxMessage.objects.filter(status=OutboxStatus.DEAD).exists()


def test_a_probe_that_succeeds_closes_the_breaker_and_wakes_the_held_rows_spread_out(
    outage, amo, clock, no_wakeups, django_capture_on_commit_callbacks
):
    net, account_id, _ = outage
    _changes(net, amo, account_id, range(8121, 8126))
    with tenant_context(net.network):
        _run_due(clock)
        assert CrmConnection.objects.get().breaker_open_since is not None
        clock.shift(3600)  # the outage is over; the held rows wait far in the future
        probe = OutboxMessage.objects.filter(status=OutboxStatus.PENDING).order_by("created_at")[0]
        OutboxMessage.objects.filter(pk=probe.pk).update(next_attempt_at=clock.now())
        no_wakeups.clear()
        with django_capture_on_commit_callbacks(execute=True):
            outbox_message_send(message_id=str(probe.pk))
        crm = CrmConnection.objects.get()
        pending = OutboxMessage.objects.filter(status=OutboxStatus.PENDING)
        latest = max(pending.values_list("next_attempt_at", flat=True))
        held = {str(pk) for pk in pending.values_list("pk", flat=True)}
        assert OutboxMessage.objects.get(pk=probe.pk).status == OutboxStatus.SENT

    assert crm.breaker_open_since is None
    assert len(held) == 9
    assert {pk for pk, _ in no_wakeups} == held
    countdowns = sorted(c for _, c in no_wakeups)
    rate = django_settings.AMOCRM_BACKGROUND_RATE_PER_SECOND
    assert countdowns == pytest.approx([i / rate for i in range(len(countdowns))])
    assert (latest - clock.now()).total_seconds() <= len(countdowns) / rate


def test_after_redis_is_lost_the_sweeper_still_wakes_the_held_rows(outage, amo, clock, no_wakeups):
    net, account_id, _ = outage
    _changes(net, amo, account_id, range(8131, 8134))
    with tenant_context(net.network):
        _run_due(clock)
        redis.Redis.from_url(django_settings.REDIS_URL).flushdb()  # queued wake-ups are gone
        clock.shift(3600 + django_settings.OUTBOX_BACKOFF_CAP_SECONDS)
        no_wakeups.clear()
        assert outbox_requeue() == OutboxMessage.objects.filter(status=OutboxStatus.PENDING).count()
        for pk, _ in list(no_wakeups):  # the worker runs what the sweeper queued
            outbox_message_send(message_id=pk)
        for _ in range(10):  # the probe's success woke the rest, spread over a few seconds
            clock.shift(5)
            _run_due(clock)
        assert set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.SENT}


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 409, 423, 425, 302])
def test_answers_that_may_pass_are_never_permanent(status):
    error = error_for_response(httpx.Response(status, text="<html>oops</html>"))
    assert isinstance(error, CrmUnavailable)
    assert not error.permanent


def test_a_429_is_transient_and_counts_against_the_crm_but_our_own_limiter_does_not():
    error = error_for_response(httpx.Response(429, json={"retry_after": 30}))
    assert isinstance(error, CrmRateLimited) and not error.permanent and error.retry_after == 30
    assert counts_against_crm(error)
    assert not counts_against_crm(CrmRateLimited("no slot", code="local_rate_limit"))


def test_a_404_on_a_list_during_recovery_is_retried_not_dead(connected, amo, no_wakeups):
    net, account_id, crm = connected
    amo.set_lead(account_id, 8141, 3000)
    with tenant_context(net.network):
        deal = DealFactory(crm_deal_id=8141, total=Decimal("3000"))
        message = outbox_note_enqueue(deal=deal, key="n404", text="Оплата получена")
        # A second attempt (its first answer was lost) looks for its note in the lead's list.
        OutboxMessage.objects.filter(pk=message.pk).update(attempts=1, last_error="network")
        connector = connector_for(CrmConnection.objects.get())
        amo.fail_next(1, 404, path_contains="/notes")
        with pytest.raises(CrmUnavailable):
            connector.find_note(8141, "[ref x]")
        amo.fail_next(1, 404, path_contains="/notes")
        outbox_message_send(message_id=str(message.pk))
        message = OutboxMessage.objects.get(pk=message.pk)
        assert field_map_of(crm) is not None
    assert message.status == OutboxStatus.PENDING
    assert "list_not_found" in message.last_error
    assert amo.notes(account_id, 8141) == []


def test_a_probe_refused_for_its_own_data_still_proves_the_crm_is_back(outage, amo, clock):
    net, account_id, _ = outage
    _changes(net, amo, account_id, range(8151, 8154))
    with tenant_context(net.network):
        _run_due(clock)
        crm = CrmConnection.objects.get()
        assert crm.breaker_open_since is not None
        clock.shift(3600)  # the outage is over...
        probe = OutboxMessage.objects.filter(status=OutboxStatus.PENDING).order_by("created_at")[0]
        OutboxMessage.objects.filter(pk=probe.pk).update(next_attempt_at=clock.now())
        amo.fail_next(1, 400)  # ...but amoCRM refuses this one change
        outbox_message_send(message_id=str(probe.pk))

        assert OutboxMessage.objects.get(pk=probe.pk).status == OutboxStatus.DEAD
        assert CrmConnection.objects.get().breaker_open_since is None
        held = OutboxMessage.objects.filter(status=OutboxStatus.PENDING)
        assert held.exists() and all(
            m.next_attempt_at <= clock.now() + timedelta(seconds=5) for m in held
        )


def test_a_timeout_is_retried_not_dead(connected, amo, no_wakeups, monkeypatch):
    from crm_connectors.amocrm import client as amo_client

    net, account_id, _ = connected
    amo.set_lead(account_id, 8161, 3000)

    def too_slow(request):
        raise httpx.ReadTimeout("no answer in time", request=request)

    monkeypatch.setattr(
        amo_client,
        "shared_http_client",
        lambda: httpx.Client(transport=httpx.MockTransport(too_slow)),
    )
    with tenant_context(net.network):
        deal = DealFactory(crm_deal_id=8161, total=Decimal("3000"))
        message = outbox_note_enqueue(deal=deal, key="slow", text="Оплата получена")
        outbox_message_send(message_id=str(message.pk))
        message = OutboxMessage.objects.get(pk=message.pk)
    assert message.status == OutboxStatus.PENDING
    assert message.last_error.startswith("network:")


def test_days_without_access_do_not_spend_the_retry_window(
    connected, amo, clock, settings, no_wakeups, instant_in_call_retries
):
    net, account_id, crm = connected
    amo.set_lead(account_id, 8171, 3000)
    with tenant_context(net.network):
        deal = DealFactory(crm_deal_id=8171, total=Decimal("3000"))
        message = outbox_note_enqueue(deal=deal, key="revoked", text="Оплата получена")
        CrmConnection.objects.filter(pk=crm.pk).update(status="revoked")
        for _ in range(4):  # the owner takes four days to reconnect; the row waits, paused
            clock.shift(24 * 3600)
            OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=clock.now())
            outbox_message_send(message_id=str(message.pk))
        CrmConnection.objects.filter(pk=crm.pk).update(status="connected")
        amo.fail_next(1, 503, path_contains="/notes")
        OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=clock.now())
        outbox_message_send(message_id=str(message.pk))
        message = OutboxMessage.objects.get(pk=message.pk)
    assert message.status == OutboxStatus.PENDING  # a first failure after reconnecting


def test_amocrms_429_is_counted_in_the_metrics(connected, amo, no_wakeups):
    from prometheus_client import REGISTRY

    net, account_id, _ = connected
    labels = {"network": net.network.slug, "crm": "amocrm"}
    before = REGISTRY.get_sample_value("fp_crm_rate_limited_total", labels) or 0.0
    amo.set_lead(account_id, 8181, 3000)
    with tenant_context(net.network):
        deal = DealFactory(crm_deal_id=8181, total=Decimal("3000"))
        message = outbox_note_enqueue(deal=deal, key="busy", text="Оплата получена")
        amo.fail_next(1, 429, path_contains="/notes", retry_after=30)
        outbox_message_send(message_id=str(message.pk))
        assert OutboxMessage.objects.get(pk=message.pk).status == OutboxStatus.PENDING
    assert REGISTRY.get_sample_value("fp_crm_rate_limited_total", labels) == before + 1
