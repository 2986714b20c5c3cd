"""The outbox sender: each change reaches the lead once; failures back off; dead rows wait."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import (
    ConnectionStatus,
    CrmConnection,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
)
from franchise_platform.crm_sync.outbox import outbox_note_enqueue
from franchise_platform.crm_sync.sender import (
    backoff_seconds,
    outbox_message_retry,
    outbox_message_send,
)
from franchise_platform.payments.models import Deal
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db


def _send_now(message):
    OutboxMessage.objects.filter(pk=message.pk).update(
        next_attempt_at=timezone.now(), lease_until=None
    )
    outbox_message_send(message_id=str(message.pk))
    return OutboxMessage.objects.get(pk=message.pk)


@pytest.fixture
def note(connected, amo):
    net, account_id, crm = connected
    amo.set_lead(account_id, 8001, 3000)
    with tenant_context(net.network):
        deal = DealFactory(crm_deal_id=8001, total=Decimal("3000"))
        message = outbox_note_enqueue(deal=deal, key="t1", text="Оплата 1500 ₽ получена")
    return net, account_id, message


def test_note_is_written_once_and_marked_sent(note, amo):
    net, account_id, message = note
    with tenant_context(net.network):
        sent = _send_now(message)
        again = _send_now(sent)  # a duplicate wake-up finds nothing to do

    assert sent.status == OutboxStatus.SENT
    assert again.status == OutboxStatus.SENT
    texts = [n["params"]["text"] for n in amo.notes(account_id, 8001)]
    assert len(texts) == 1
    assert texts[0].startswith("Оплата 1500 ₽ получена")


def test_same_key_never_makes_a_second_note(note):
    net, _, message = note
    with tenant_context(net.network):
        again = outbox_note_enqueue(deal=message.deal, key="t1", text="другой текст")
        assert again.pk == message.pk
        assert OutboxMessage.objects.filter(kind=OutboxKind.NOTE).count() == 1


def test_retry_after_a_lost_answer_finds_the_note_instead_of_writing_twice(note, amo):
    net, account_id, message = note
    with tenant_context(net.network):
        _send_now(message)
        # As if the worker died after amoCRM stored the note but before we recorded it.
        OutboxMessage.objects.filter(pk=message.pk).update(
            status=OutboxStatus.PENDING, external_id=""
        )
        resent = _send_now(OutboxMessage.objects.get(pk=message.pk))

    assert resent.status == OutboxStatus.SENT
    assert len(amo.notes(account_id, 8001)) == 1
    assert resent.external_id == str(amo.notes(account_id, 8001)[0]["id"])


@pytest.mark.parametrize("status", [500, 429])
def test_temporary_failure_backs_off_and_keeps_the_row(note, amo, status, monkeypatch):
    from franchise_platform.crm_sync import tasks

    queued = []
    monkeypatch.setattr(
        tasks.outbox_send, "apply_async", lambda args, countdown: queued.append(countdown)
    )
    net, account_id, message = note
    amo.fail_for(30, status)
    try:
        with tenant_context(net.network):
            failed = _send_now(message)
    finally:
        amo.clear_failures()

    assert failed.status == OutboxStatus.PENDING
    assert failed.attempts == 1
    assert failed.next_attempt_at > timezone.now()
    assert failed.last_error
    assert len(queued) == 1
    assert 0 <= queued[0] <= 900
    assert amo.notes(account_id, 8001) == []


def test_row_goes_dead_only_when_its_retry_window_closes_and_retry_revives_it(
    note,
    amo,
    clock,
    settings,
    no_wakeups,
    instant_in_call_retries,
    django_capture_on_commit_callbacks,
):
    settings.OUTBOX_BREAKER_THRESHOLD = 1000  # this test is about one row, not the breaker
    net, account_id, message = note
    amo.fail_next(10_000, 500, path_contains="/notes")
    try:
        with tenant_context(net.network):
            for _ in range(20):  # far more failures than a count of 8 allowed
                message = _send_now(message)
            assert message.status == OutboxStatus.PENDING
            clock.shift(settings.OUTBOX_RETRY_HOURS * 3600 + 60)
            OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=clock.now())
            outbox_message_send(message_id=str(message.pk))
            message = OutboxMessage.objects.get(pk=message.pk)
            assert message.status == OutboxStatus.DEAD
            assert message.attempts == 21
            assert _send_now(message).status == OutboxStatus.DEAD  # dead rows are not sent
    finally:
        amo.clear_failures()
    with tenant_context(net.network):
        with django_capture_on_commit_callbacks(execute=True):
            assert outbox_message_retry(message_id=str(message.pk))
        revived = OutboxMessage.objects.get(pk=message.pk)
        assert revived.retry_since == revived.next_attempt_at  # a new window starts now
        revived = _send_now(revived)
    assert revived.status == OutboxStatus.SENT
    assert len(amo.notes(account_id, 8001)) == 1


def test_revoked_access_stops_all_calls_and_tells_the_owner(note, amo):
    net, account_id, message = note
    amo.revoke(account_id, 403)
    with tenant_context(net.network):
        paused = _send_now(message)
        crm = CrmConnection.objects.get()
        assert crm.status == ConnectionStatus.REVOKED
        assert crm.last_error
        assert paused.status == OutboxStatus.PENDING
        calls_before = len(amo.api_requests(account_id))
        _send_now(paused)
        assert len(amo.api_requests(account_id)) == calls_before  # nothing sent while revoked


def test_backoff_has_full_jitter_and_a_cap():
    samples = [backoff_seconds(20) for _ in range(200)]
    assert max(samples) <= 900
    assert min(samples) >= 0
    assert len({round(s, 3) for s in samples}) > 150  # spread, not a fixed delay


def test_deal_state_write_carries_links_paid_sum_and_status(connected, amo):
    net, account_id, crm = connected
    amo.set_lead(account_id, 8002, 4000)
    with tenant_context(net.network):
        deal = DealFactory(
            crm_deal_id=8002, total=Decimal("4000"), paid=Decimal("1200"), status="partially_paid"
        )
        from franchise_platform.crm_sync.outbox import outbox_deal_state_enqueue

        message = outbox_deal_state_enqueue(deal=deal)
        assert _send_now(message).status == OutboxStatus.SENT
        assert Deal.objects.get(pk=deal.pk).paid == Decimal("1200")

    values = amo.lead_values(account_id, 8002)
    assert Decimal(str(values["Оплачено"])) == Decimal("1200")
    assert values["Статус оплаты"] == "Частично оплачено"
