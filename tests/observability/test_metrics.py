"""Prometheus metrics: /metrics behind a token on platform hosts only, per-network counters wired
into the payment flow, task latency from Celery's signals, database gauges read at scrape time."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from franchise_platform.crm_sync.models import OutboxMessage, OutboxStatus
from franchise_platform.flows.payment import callback_apply
from franchise_platform.observability.collectors import database_collector
from franchise_platform.observability.metrics import metric_crm_rate_limited
from franchise_platform.payments.models import CallbackEvent
from franchise_platform.tasks import NetworkMissing, whoami
from tests.factories import shop
from tests.observability.flows import issued_invoice
from tests.payments.helpers import callback, deal_with_links
from tests.personas import platform_client

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests-0123456789"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client: Client | None = None) -> dict[tuple[str, tuple], float]:
    response = (client or platform_client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    database_collector.forget()
    yield TOKEN
    database_collector.forget()


def test_metrics_is_404_when_no_token_is_configured(settings, monkeypatch):
    settings.METRICS_TOKEN = ""
    monkeypatch.delenv("METRICS_TOKEN", raising=False)

    response = platform_client().get("/metrics")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_metrics_wants_the_bearer_token(token):
    client = platform_client()

    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.status_code == 401
    assert wrong["WWW-Authenticate"].startswith("Bearer")
    assert wrong.json()["code"] == "unauthorized"
    ok = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert ok.status_code == 200
    assert ok["Content-Type"].startswith("text/plain; version=")
    assert b"fp_metrics_db_up 1.0" in ok.content


def test_metrics_answers_on_the_extra_platform_host_a_scraper_uses(token):
    # Prometheus scrapes each pod by its IP: PLATFORM_EXTRA_PUBLIC_HOSTS (127.0.0.1 by default).
    response = Client(HTTP_HOST="127.0.0.1:8000").get(
        "/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    )
    assert response.status_code == 200


def test_network_hosts_have_no_metrics(token, net_a):
    response = net_a.anonymous().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 404
    assert b"fp_" not in response.content


def test_links_callbacks_and_payments_are_counted_per_network(
    net_a, net_b, django_capture_on_commit_callbacks
):
    alpha = net_a.network.slug
    before = {
        "prepayment": value("fp_payment_links_issued_total", network=alpha, kind="prepayment"),
        "full": value("fp_payment_links_issued_total", network=alpha, kind="full"),
        "bad": value(
            "fp_provider_callbacks_total",
            network=alpha,
            provider="robokassa",
            result="refused",
            reason="bad_signature",
        ),
        "ok": value(
            "fp_provider_callbacks_total",
            network=alpha,
            provider="robokassa",
            result="accepted",
            reason="",
        ),
        "paid": value("fp_invoices_paid_total", network=alpha, source="callback"),
        "bravo_links": value(
            "fp_payment_links_issued_total", network=net_b.network.slug, kind="full"
        ),
    }
    with tenant_context(net_a.network):
        account = shop()
        with django_capture_on_commit_callbacks(execute=True):
            deal = deal_with_links(account.partner.locations.get())
        with django_capture_on_commit_callbacks(execute=True):
            deal_with_links(account.partner.locations.get())  # same answer: nothing new
        invoice = issued_invoice(deal, account)
        client = net_a.anonymous()
        refused = callback(client, account, inv_id=invoice.pk, out_sum="1500.00", password2="wrong")
        with django_capture_on_commit_callbacks(execute=False):
            accepted = callback(client, account, inv_id=invoice.pk, out_sum="1500.00")
        with django_capture_on_commit_callbacks(execute=True):
            callback_apply(event_id=str(CallbackEvent.objects.get(accepted=True).pk))

    assert refused.status_code == 400 and accepted.status_code == 200
    assert value("fp_payment_links_issued_total", network=alpha, kind="prepayment") == (
        before["prepayment"] + 1
    )
    assert value("fp_payment_links_issued_total", network=alpha, kind="full") == before["full"] + 1
    assert (
        value(
            "fp_provider_callbacks_total",
            network=alpha,
            provider="robokassa",
            result="refused",
            reason="bad_signature",
        )
        == before["bad"] + 1
    )
    assert (
        value(
            "fp_provider_callbacks_total",
            network=alpha,
            provider="robokassa",
            result="accepted",
            reason="",
        )
        == before["ok"] + 1
    )
    assert value("fp_invoices_paid_total", network=alpha, source="callback") == before["paid"] + 1
    # Nothing was counted for the other network.
    assert (
        value("fp_payment_links_issued_total", network=net_b.network.slug, kind="full")
        == before["bravo_links"]
    )


def test_a_rolled_back_payment_is_not_counted(net_a, django_capture_on_commit_callbacks):
    from franchise_platform.observability.metrics import metric_invoice_paid

    alpha = net_a.network.slug
    before = value("fp_invoices_paid_total", network=alpha, source="callback")
    with tenant_context(net_a.network), django_capture_on_commit_callbacks(execute=False):
        metric_invoice_paid(source="callback")  # its transaction never commits

    assert value("fp_invoices_paid_total", network=alpha, source="callback") == before


def test_crm_rate_limits_are_counted_for_the_current_network(net_b):
    bravo = net_b.network.slug
    before = value("fp_crm_rate_limited_total", network=bravo, crm="amocrm")
    with tenant_context(net_b.network):
        metric_crm_rate_limited()
    assert value("fp_crm_rate_limited_total", network=bravo, crm="amocrm") == before + 1


def test_task_latency_is_observed_with_task_network_and_state(net_a):
    alpha = net_a.network.slug
    labels = {"task": "franchise_platform.whoami", "network": alpha, "state": "SUCCESS"}
    before = value("fp_task_duration_seconds_count", **labels)
    with tenant_context(net_a.network):
        result = whoami.apply(args=("latency",))
    assert result.get()["schema"] == net_a.network.schema_name
    assert value("fp_task_duration_seconds_count", **labels) == before + 1

    refused = {"task": "franchise_platform.whoami", "network": "public", "state": "FAILURE"}
    before_refused = value("fp_task_duration_seconds_count", **refused)
    connection.set_schema_to_public()
    failed = whoami.apply(args=("no network",))
    assert isinstance(failed.result, NetworkMissing)
    assert value("fp_task_duration_seconds_count", **refused) == before_refused + 1


def test_outbox_depth_and_dead_rows_are_read_per_network_at_scrape_time(token, net_a, net_b):
    with tenant_context(net_a.network):
        for i, status in enumerate(
            [OutboxStatus.PENDING, OutboxStatus.PENDING, OutboxStatus.DEAD, OutboxStatus.SENT]
        ):
            OutboxMessage.objects.create(kind="note", dedupe_key=f"m-{i}", status=status)

    samples = scrape()

    alpha = (("network", net_a.network.slug),)
    bravo = (("network", net_b.network.slug),)
    assert samples[("fp_crm_outbox_pending", alpha)] == 2
    assert samples[("fp_crm_outbox_dead", alpha)] == 1
    assert samples[("fp_crm_outbox_pending", bravo)] == 0
    assert samples[("fp_crm_outbox_dead", bravo)] == 0
    assert samples[("fp_callback_inbox_pending", alpha)] == 0
    assert samples[("fp_metrics_db_errors", ())] == 0


def test_database_gauges_are_cached_between_scrapes(token, net_a, settings):
    settings.METRICS_DB_TTL_SECONDS = 3600
    first = database_collector.snapshot()
    with tenant_context(net_a.network):
        OutboxMessage.objects.create(kind="note", dedupe_key="late", status=OutboxStatus.DEAD)
    assert database_collector.snapshot() is first  # no query until the TTL passes
    database_collector.forget()
    assert database_collector.snapshot().outbox_dead[net_a.network.slug] == 1
