"""The failure scenarios of issue 6 (item 8) and the callback storm of issue 4 (item 6)."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import redis
from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import OutboxMessage, OutboxStatus
from franchise_platform.flows.button import deal_links_ensure
from franchise_platform.payments.links import LeadFacts
from franchise_platform.payments.models import Deal, Invoice, Payment
from franchise_platform.tasks import reconcile_all_networks, sweep_all_networks
from tests.live import max_rps_since, wait_for

from .test_lifecycle import _links, _setup

pytestmark = pytest.mark.worker


def _lead(net, location, lead_id, price=5000):
    net.amo.set_lead(net.account_id, lead_id, price, location_enum_id=net.location_enum(location))
    response = net.widget("POST", lead_id)
    assert response.status_code == 200, response.text
    return _links(response.json())


def _sweep():
    """Queue the beat's sweeper for every network, as beat does (it runs in the worker)."""
    connection.set_schema_to_public()
    sweep_all_networks.delay()


def _payment_notes(net, lead_id):
    return [
        n["params"]["text"]
        for n in net.amo.notes(net.account_id, lead_id)
        if "получена" in n["params"]["text"]
    ]


def _outbox_state(net, started: float) -> str:
    """The outbox rows, the breaker and the fake's answers since `started`: what a timeout shows."""
    from franchise_platform.crm_sync.models import CrmConnection

    with tenant_context(net.network()):
        rows = list(
            OutboxMessage.objects.order_by("created_at").values_list(
                "kind", "status", "attempts", "next_attempt_at", "lease_until", "last_error"
            )
        )
        breaker = list(
            CrmConnection.objects.values_list(
                "breaker_failures",
                "breaker_open_since",
                "breaker_probes",
                "breaker_probe_at",
                "breaker_probe_until",
            )
        )
    answers = [
        (round(r.at - started, 2), r.method, r.path, r.status)
        for r in list(net.amo.requests)
        if r.at >= started
    ]
    return f"outbox: {rows}\nbreaker: {breaker}\nanswers: {answers}"


def test_crm_answering_500_then_429_gets_every_change_once_after_recovery(live_network):
    net = live_network
    _, _, baumana, _ = _setup(net)
    links = _lead(net, baumana, 7101)
    wait_for(
        lambda: links["full"]["url"] in net.amo.lead_values(net.account_id, 7101).values(),
        what="links",
    )

    started = time.monotonic()
    net.amo.fail_for(4, 500)
    net.amo.fail_for(8, 429, retry_after=1)
    net.pay(links["prepayment"]["url"])
    net.pay(links["full"]["url"])

    wait_for(
        lambda: net.amo.lead_values(net.account_id, 7101).get("Статус оплаты") == "Оплачено",
        timeout=120,
        what="deal state delivered after the CRM recovered",
        explain=lambda: _outbox_state(net, started),
    )
    wait_for(lambda: len(_payment_notes(net, 7101)) == 2, timeout=120, what="both payment notes")
    time.sleep(2)  # nothing more trickles in: each change reached the lead once
    assert len(_payment_notes(net, 7101)) == 2
    assert Decimal(str(net.amo.lead_values(net.account_id, 7101)["Оплачено"])) == Decimal("5000")
    assert max_rps_since(net.amo, net.account_id, started) <= 7
    with tenant_context(net.network()):
        assert not OutboxMessage.objects.exclude(status=OutboxStatus.SENT).exists()


def test_redis_flushed_mid_flow_the_sweeper_finishes_the_work(live_network, celery_worker):
    net = live_network
    _, _, baumana, _ = _setup(net)
    links = _lead(net, baumana, 7102)
    wait_for(
        lambda: links["full"]["url"] in net.amo.lead_values(net.account_id, 7102).values(),
        what="links",
    )

    celery_worker.stop()
    try:
        inv_id, _, delivery = net.pay(links["full"]["url"])
        assert delivery.body == f"OK{inv_id}"  # stored and acknowledged while no worker runs
        broker = redis.Redis.from_url(settings.REDIS_URL)
        # The hand-off thread publishes just after the answer (payments/handoff.py): wait for
        # that very message (other messages may already wait in the queue).
        wait_for(
            lambda: any(
                b"payments.callback_apply" in message for message in broker.lrange("default", 0, -1)
            ),
            what="the apply message queued",
        )
        broker.flushdb()  # every queued message is gone
    finally:
        celery_worker.start()
    time.sleep(3)
    with tenant_context(net.network()):
        assert not Payment.objects.exists()  # the wake-up was lost with Redis
    _sweep()  # what beat runs every minute
    with tenant_context(net.network()):
        wait_for(
            lambda: Payment.objects.filter(invoice_id=inv_id).exists(), what="payment after sweep"
        )
        assert Payment.objects.count() == 1
    wait_for(
        lambda: _sweep() or len(_payment_notes(net, 7102)) == 1, timeout=60, interval=2, what="note"
    )
    for _ in range(3):  # later sweeps (the outbox rows are swept too) add nothing
        _sweep()
        time.sleep(1)
    assert len(_payment_notes(net, 7102)) == 1
    with tenant_context(net.network()):
        assert Payment.objects.count() == 1


def test_worker_killed_during_a_crm_write_loses_nothing_and_duplicates_nothing(
    live_network, celery_worker
):
    net = live_network
    _, _, baumana, _ = _setup(net)
    links = _lead(net, baumana, 7103)
    wait_for(
        lambda: links["full"]["url"] in net.amo.lead_values(net.account_id, 7103).values(),
        what="links",
    )

    net.amo.delay_next(6, 3.0)  # the CRM writes after the payment hang for a while...
    net.pay(links["full"]["url"])
    time.sleep(1.5)
    celery_worker.kill()  # ...and the worker dies with them in flight
    celery_worker.start()

    def all_sent():
        _sweep()
        with tenant_context(net.network()):
            return not OutboxMessage.objects.exclude(status=OutboxStatus.SENT).exists()

    wait_for(all_sent, timeout=90, interval=2, what="outbox drained after the worker came back")
    with tenant_context(net.network()):
        assert Payment.objects.count() == 1
    assert len(_payment_notes(net, 7103)) == 1
    assert net.amo.lead_values(net.account_id, 7103).get("Статус оплаты") == "Оплачено"


def test_lost_callback_is_recorded_once_by_reconciliation(live_network):
    net = live_network
    _, _, baumana, _ = _setup(net)
    links = _lead(net, baumana, 7104)

    inv_id, _, delivery = net.pay(links["prepayment"]["url"], notify=False)
    assert delivery is None  # Robokassa took the money but never called us
    connection.set_schema_to_public()
    reconcile_all_networks.delay()
    with tenant_context(net.network()):
        wait_for(
            lambda: Payment.objects.filter(invoice_id=inv_id).exists(),
            what="payment by reconciliation",
        )
        payment = Payment.objects.get(invoice_id=inv_id)
        assert payment.source == "reconciliation"
    reconcile_all_networks.delay()
    time.sleep(3)
    with tenant_context(net.network()):
        assert Payment.objects.count() == 1
        assert Deal.objects.get(crm_deal_id=7104).paid == Decimal("1500.00")
    wait_for(
        lambda: len(_payment_notes(net, 7104)) == 1, timeout=60, what="note for reconciled payment"
    )


def test_callback_storm_200_for_50_invoices_with_duplicates_and_forgeries(live_network):
    """Issue 4: 200 callbacks for 50 invoices fired in parallel, a third duplicates and some with
    bad signatures: exactly one payment per invoice, every bad one refused, no 5xx."""
    net = live_network
    ip = net.add_partner(
        name="ИП Петров",
        legal_form="ip",
        inn="500100732259",
        tax_system="usn_income",
        vat="none",
        login=f"{net.slug}-storm",
        algorithm="sha512",
    )
    location = net.add_location("Квест «Шторм»", ip)
    invoices = []
    with tenant_context(net.network()):
        for lead_id in range(50):
            deal = deal_links_ensure(
                facts=LeadFacts("amocrm", 9000 + lead_id, "storm", Decimal("1000"), location["id"])
            )
            token = deal.links.get(kind="full").token
            invoices.append(token)
    login = f"{net.slug}-storm"
    paid = []
    markers = {}
    with net.server.client() as client:
        for token in invoices:
            target = client.get(f"http://{net.host}/pay/{token}").headers["Location"]
            query = dict(p.split("=", 1) for p in target.split("?", 1)[1].split("&"))
            inv_id = int(query["InvId"])
            paid.append(inv_id)
            markers[inv_id] = [("Shp_mark", query["Shp_mark"])]  # echoed by Robokassa
    good = [
        net.robokassa.build_result_callback(login, inv, "1000.000000", shp=markers[inv])
        for inv in paid
    ]
    rng = random.Random(42)
    duplicates = [rng.choice(good) for _ in range(67)]
    forged = [
        net.robokassa.build_result_callback(
            login, (inv := rng.choice(paid)), "1000.000000", shp=markers[inv], password2="wrong"
        )
        for _ in range(40)
    ]
    extra = [rng.choice(good) for _ in range(200 - 50 - 67 - 40)]
    storm = [(form, True) for form in good + duplicates + extra] + [
        (form, False) for form in forged
    ]
    rng.shuffle(storm)
    assert len(storm) == 200

    def fire(item):
        form, valid = item
        with net.server.client() as client:
            response = client.post(ip["robokassa"]["result_url"], data=form)
        return valid, form["InvId"], response.status_code, response.text

    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(fire, storm))

    assert all(status < 500 for _, _, status, _ in answers)
    for valid, inv, status, text in answers:
        if valid:
            assert (status, text) == (200, f"OK{inv}")
        else:
            assert status == 400
    with tenant_context(net.network()):
        wait_for(lambda: Payment.objects.count() == 50, timeout=60, what="50 payments")
        time.sleep(2)
        assert Payment.objects.count() == 50
        assert set(Payment.objects.values_list("invoice_id", flat=True)) == set(paid)
        assert Invoice.objects.filter(status="paid").count() == 50
