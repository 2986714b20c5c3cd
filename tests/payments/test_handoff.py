"""Stored callbacks reach the worker off the answer's path, gathered, and never lost."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from franchise_platform.flows import payment as payment_flow
from franchise_platform.payments import callbacks, handoff, sweeping
from franchise_platform.payments import tasks as payment_tasks
from franchise_platform.payments.models import CallbackEvent, CallbackStatus, Invoice, LinkKind
from tests.factories import shop

from .helpers import active_link, callback, deal_with_links, visit

pytestmark = pytest.mark.django_db

WAIT = 10.0


class Published:
    """Stands in for the broker publish: records each message, may hold or refuse it."""

    def __init__(self, *, hold: bool = False, refuse: bool = False) -> None:
        self.calls: list[tuple[list[str], str]] = []
        self.arrived = threading.Condition()
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self.refuse = refuse

    def apply_async(self, *, args, headers, **options):
        self.release.wait(WAIT)
        with self.arrived:
            self.calls.append((list(args[0]), headers["_schema_name"]))
            self.arrived.notify_all()
        if self.refuse:
            raise ConnectionError("broker down")

    def wait_for(self, count: int) -> list[tuple[list[str], str]]:
        with self.arrived:
            assert self.arrived.wait_for(
                lambda: sum(len(ids) for ids, _ in self.calls) >= count, WAIT
            )
            return list(self.calls)


@pytest.fixture
def published(monkeypatch, settings):
    settings.CALLBACK_HANDOFF = "background"
    settings.CALLBACK_HANDOFF_WINDOW_MS = 5
    # A fresh hand-off thread for each test, with the window the test sets.
    monkeypatch.setattr(handoff, "_current", None)

    def use(**kwargs) -> Published:
        fake = Published(**kwargs)
        monkeypatch.setattr(handoff.callback_apply_batch_task, "apply_async", fake.apply_async)
        return fake

    yield use
    current = handoff._current
    if current is not None:
        current.flush_and_stop()


@pytest.fixture
def paid_notification(in_network):
    account = shop()
    deal = deal_with_links(account.partner.locations.get())
    visit(in_network.anonymous(), active_link(deal, LinkKind.PREPAYMENT))
    return account, Invoice.objects.get()


def test_the_answer_does_not_wait_for_the_broker(
    in_network, paid_notification, published, django_capture_on_commit_callbacks
):
    account, invoice = paid_notification
    broker = published(hold=True)  # the publish blocks until released

    with django_capture_on_commit_callbacks(execute=True):
        response = callback(
            in_network.anonymous(), account, inv_id=invoice.pk, out_sum="1500.000000"
        )

    assert response.status_code == 200 and response.content.decode() == f"OK{invoice.pk}"
    assert broker.calls == []  # answered while the message is still unpublished
    event = CallbackEvent.objects.get()
    assert event.status == CallbackStatus.PENDING
    broker.release.set()
    assert broker.wait_for(1) == [([str(event.pk)], connection.schema_name)]


def test_a_lone_event_is_published_at_once_not_after_the_window(published, settings):
    settings.CALLBACK_HANDOFF_WINDOW_MS = 60_000  # a window longer than the wait below
    broker = published()

    handoff.callback_handoff(schema="net_a", event_id="1")

    assert broker.wait_for(1) == [(["1"], "net_a")]


def _right_after_a_publish(broker: Published) -> None:
    """Publish a lone event first: what follows within the window is then gathered."""
    handoff.callback_handoff(schema="net_a", event_id="lead")
    broker.wait_for(1)
    broker.calls.clear()


def test_events_gathered_in_the_window_go_as_one_message_per_network(published, settings):
    settings.CALLBACK_HANDOFF_WINDOW_MS = 2_000
    broker = published()
    _right_after_a_publish(broker)

    for schema, event_id in [("net_a", "1"), ("net_b", "2"), ("net_a", "3"), ("net_a", "4")]:
        handoff.callback_handoff(schema=schema, event_id=event_id)

    calls = broker.wait_for(4)
    assert sorted(calls) == [(["1", "3", "4"], "net_a"), (["2"], "net_b")]


def test_a_batch_holds_at_most_batch_max_events(published, settings):
    settings.CALLBACK_HANDOFF_WINDOW_MS = 2_000
    broker = published()
    _right_after_a_publish(broker)

    for number in range(handoff.BATCH_MAX + 3):
        handoff.callback_handoff(schema="net_a", event_id=str(number))

    calls = broker.wait_for(handoff.BATCH_MAX + 3)
    assert [len(ids) for ids, _ in calls] == [handoff.BATCH_MAX, 3]


def test_a_lost_hand_off_is_queued_again_by_the_sweeper(
    in_network,
    paid_notification,
    published,
    settings,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    account, invoice = paid_notification
    broker = published(refuse=True)

    with django_capture_on_commit_callbacks(execute=True):
        response = callback(
            in_network.anonymous(), account, inv_id=invoice.pk, out_sum="1500.000000"
        )

    assert response.status_code == 200  # the row is committed: the answer is still OK
    broker.wait_for(1)
    event = CallbackEvent.objects.get()
    assert event.status == CallbackStatus.PENDING
    requeued: list[str] = []
    monkeypatch.setattr(sweeping.callback_apply_task, "delay", requeued.append)
    settings.SWEEP_GRACE_SECONDS = 0
    assert sweeping.callbacks_requeue() == 1
    assert requeued == [str(event.pk)]


def test_a_new_process_gets_its_own_thread(published, monkeypatch):
    published()
    handoff.callback_handoff(schema="net_a", event_id="1")
    parent = handoff._current
    assert parent is not None and parent.thread.is_alive()

    monkeypatch.setattr(handoff.os, "getpid", lambda: parent.pid + 1)  # as after a fork
    handoff.callback_handoff(schema="net_a", event_id="2")

    assert handoff._current is not parent and handoff._current.pid == parent.pid + 1
    parent.flush_and_stop()


def test_inline_hand_off_publishes_in_the_request(settings, monkeypatch):
    settings.CALLBACK_HANDOFF = "inline"
    sent: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr(
        handoff.callback_apply_task,
        "apply_async",
        lambda *, args, headers: sent.append((args, headers)),
    )

    handoff.callback_handoff(schema="net_a", event_id="7")

    assert sent == [(["7"], {"_schema_name": "net_a"})]


def test_the_batch_task_applies_each_and_queues_a_failure_alone(monkeypatch):
    applied: list[str] = []
    alone: list[str] = []

    def apply(*, event_id):
        if event_id == "bad":
            raise RuntimeError("boom")
        applied.append(event_id)

    monkeypatch.setattr("franchise_platform.flows.payment.callback_apply", apply)
    monkeypatch.setattr(payment_tasks.callback_apply_task, "delay", alone.append)

    payment_tasks.callback_apply_batch_task.run(["a", "bad", "b"])

    assert applied == ["a", "b"]
    assert alone == ["bad"]


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.parametrize(("relaxed", "during_apply"), [(True, "off"), (False, "on")])
def test_applying_does_not_wait_for_the_wal_flush(
    in_network, paid_notification, settings, monkeypatch, relaxed, during_apply
):
    account, invoice = paid_notification
    settings.CALLBACK_APPLY_ASYNC_COMMIT = relaxed
    callback(in_network.anonymous(), account, inv_id=invoice.pk, out_sum="1500.000000")
    event = CallbackEvent.objects.get()
    seen: list[str] = []
    record = callbacks.payment_record

    def spy(**kwargs):
        seen.append(_synchronous_commit())
        return record(**kwargs)

    monkeypatch.setattr(callbacks, "payment_record", spy)
    payment_flow.callback_apply(event_id=str(event.pk))

    assert seen == [during_apply]
    assert CallbackEvent.objects.get(pk=event.pk).status == CallbackStatus.APPLIED


def test_a_transaction_that_queues_a_receipt_commits_durably(in_network, settings):
    from franchise_platform.payments.delivery import DeliverySource, deal_deliver
    from franchise_platform.payments.models import SettlementReceipt

    from .test_fiscal_table import _pay

    account = shop(fiscalization=True, partner__tax_system="osn", partner__vat="vat22")
    deal = deal_with_links(account.partner.locations.get(), lead=7402)
    _pay(in_network.anonymous(), account, deal, "prepayment")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")  # as callback_apply begins

    deal_deliver(deal_id=deal.pk, source=DeliverySource.CRM_STAGE)

    assert SettlementReceipt.objects.filter(deal=deal).count() == 1
    assert _synchronous_commit() == "on"
