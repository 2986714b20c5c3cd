"""Issue 18: the dashboard page on a network with 100,000 paid deals (50 partners, 500 locations,
a year of payments), and the payments exports of the whole year.

Figures (bench/results/dashboard.json):
  - the page's time (Django's full request path in process: middleware, session, the view, the
    template), p50/p95/p99 for the default view (30 days by day), a year by month, a year by week
    (all partners), a year of one partner by week, and the home page that carries the summary;
    the goal is p95 <= 300 ms. Closed days come from the rollup (reporting/rollup.py), built
    first as the beat would; its first build and a refresh after 100 deals changed are timed;
  - the time of each SQL statement of the default view (EXPLAIN ANALYZE), to see where it goes;
  - the CSV of every payment of the year (seconds, bytes, the Python heap's peak by tracemalloc in
    a second pass), a week's XLSX built in the request, and the year's XLSX built as the worker
    builds it (panel/export_jobs.py).
"""

from __future__ import annotations

import os
import random
import time
import tracemalloc
import uuid
from datetime import timedelta
from decimal import Decimal

from . import common
from .common import summary, write_result

PARTNERS = int(os.environ.get("BENCH_PARTNERS", 50))
LOCATIONS = int(os.environ.get("BENCH_LOCATIONS", 500))
PAID_DEALS = int(os.environ.get("BENCH_PAID_DEALS", 100_000))
SAMPLES = int(os.environ.get("BENCH_DASHBOARD_SAMPLES", 60))
# Its own database: other benchmarks recreate theirs and may run at the same time.
DATABASE = os.environ.get("BENCH_DASHBOARD_DATABASE", "franchise_bench_dashboard")
GOAL_SECONDS = 0.300


def _seed(network, rng: random.Random) -> dict[str, int]:
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from franchise_platform.network.models import Location, Partner, ProviderAccount
    from franchise_platform.payments.models import Deal, Invoice, Payment, PaymentLink

    now = timezone.now()
    year = timedelta(days=365)
    with tenant_context(network):
        partners = []
        for i in range(PARTNERS):
            partner = Partner.objects.create(
                name=f"ИП Партнёр {i}", legal_form="ip", inn="500100732259", tax_system="usn_income"
            )
            ProviderAccount.objects.create(
                partner=partner,
                merchant_login=f"bench-{i}",
                password1="p1",
                password2="p2",
                hash_algorithm="md5",
            )
            partners.append(partner)
        accounts = {p.pk: p.provider_account for p in partners}
        locations = [
            Location.objects.create(name=f"Квест №{i}", partner=partners[i % PARTNERS])
            for i in range(LOCATIONS)
        ]
        # Paid deals, a few partly paid ones around their service date, a few with a test
        # payment only, and open deals whose links were never paid.
        partial = PAID_DEALS // 50
        tests = PAID_DEALS // 100
        unpaid = PAID_DEALS // 20
        kinds = ["paid"] * PAID_DEALS + ["partial"] * partial + ["test"] * tests + ["open"] * unpaid
        batch = 5000
        for start in range(0, len(kinds), batch):
            chunk = kinds[start : start + batch]
            deals = []
            moments = []
            for offset, kind in enumerate(chunk):
                location = locations[rng.randrange(LOCATIONS)]
                total = Decimal(1000 + rng.randrange(90) * 100)
                paid_at = now - year * rng.random()
                moments.append(paid_at)
                deals.append(
                    Deal(
                        crm_deal_id=1_000_000 + start + offset,
                        title=f"История {start + offset}",
                        total=total,
                        paid=total
                        if kind == "paid"
                        else (total * 3 / 10 if kind == "partial" else 0),
                        status={"paid": "paid", "partial": "partially_paid"}.get(kind, "open"),
                        location=location,
                        partner_id=location.partner_id,
                        service_date=now + timedelta(days=rng.uniform(-30, 30))
                        if kind == "partial"
                        else None,
                    )
                )
            Deal.objects.bulk_create(deals)
            links = PaymentLink.objects.bulk_create(
                [
                    PaymentLink(
                        deal=d,
                        kind="full",
                        amount=d.total,
                        status="paid" if kind == "paid" else "active",
                        token=uuid.uuid4().hex[:22],
                    )
                    for d, kind in zip(deals, chunk, strict=True)
                ]
            )
            paying = [
                (d, link, kind, moment)
                for d, link, kind, moment in zip(deals, links, chunk, moments, strict=True)
                if kind != "open"
            ]
            invoices = Invoice.objects.bulk_create(
                [
                    Invoice(
                        link=link,
                        deal=d,
                        provider_account=accounts[d.partner_id],
                        provider="robokassa",
                        amount=d.paid if kind != "test" else d.total,
                        payment_kind="full",
                        status="paid",
                        is_test=kind == "test",
                        payment_url="-",
                        expires_at=moment,
                        paid_at=moment,
                    )
                    for d, link, kind, moment in paying
                ]
            )
            Payment.objects.bulk_create(
                [
                    Payment(
                        invoice=inv,
                        deal=d,
                        partner_id=d.partner_id,
                        amount=inv.amount,
                        kind="full",
                        is_test=kind == "test",
                        paid_at=moment,
                    )
                    for inv, (d, _link, kind, moment) in zip(invoices, paying, strict=True)
                ]
            )
        with connection.cursor() as cursor:
            # Links are issued some hours before their payment (created_at is auto_now_add).
            cursor.execute(
                """
                UPDATE payments_paymentlink l
                SET created_at = p.paid_at - random() * interval '48 hours'
                FROM payments_payment p WHERE p.deal_id = l.deal_id
                """
            )
            cursor.execute(
                """
                UPDATE payments_paymentlink l SET created_at = now() - random() * interval '365 days'
                WHERE NOT EXISTS (SELECT 1 FROM payments_payment p WHERE p.deal_id = l.deal_id)
                """
            )
            cursor.execute("ANALYZE")
        return {
            "partners": PARTNERS,
            "locations": LOCATIONS,
            "paid_deals": PAID_DEALS,
            "partly_paid_deals": partial,
            "test_only_deals": tests,
            "unpaid_deals": unpaid,
            "payments": Payment.objects.count(),
        }


def _time_page(client, path: str, params: dict[str, str], samples: int) -> dict[str, float]:
    client.get(path, params)  # warm-up: templates compiled, connection open
    durations = []
    for _ in range(samples):
        start = time.perf_counter()
        response = client.get(path, params)
        durations.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
    return summary(durations)


def _explain(client, network, params: dict[str, str]) -> list[dict[str, object]]:
    """Each statement of one page view with its EXPLAIN ANALYZE execution time."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django_tenants.utils import tenant_context

    with CaptureQueriesContext(connection) as captured:
        client.get("/panel/dashboard/", params)
    statements = []
    with tenant_context(network), connection.cursor() as cursor:
        for query in captured.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith(("SELECT", "WITH")) or (
                "payments_" not in sql and "reporting_" not in sql
            ):
                continue
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
            plan = cursor.fetchone()[0][0]
            statements.append(
                {
                    "sql": sql[:160],
                    "ms": round(plan["Execution Time"], 2),
                    "top_node": plan["Plan"]["Node Type"],
                }
            )
    return statements


def _xlsx_rows(body: bytes) -> int:
    import io

    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).active
    return sum(1 for _row in sheet.iter_rows(min_row=2))


def _export(client, path: str, params: dict[str, str]) -> dict[str, object]:
    start = time.perf_counter()
    response = client.get(path, params)
    assert response.status_code == 200, response.status_code
    body = b"".join(response.streaming_content)
    seconds = time.perf_counter() - start
    tracemalloc.start()
    response = client.get(path, params)
    for _chunk in response.streaming_content:
        pass
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "seconds": round(seconds, 2),
        "bytes": len(body),
        "rows": body.count(b"\n") - 1 if path.endswith(".csv") else _xlsx_rows(body),
        "python_heap_peak_mb": round(peak / 2**20, 1),
    }


def _rollup(network) -> dict[str, float]:
    """The beat's refresh (reporting/rollup.py): the first build over the whole year, then a
    refresh after a hundred deals changed (a day's worth of late payments and moves)."""
    from django.db import connection
    from django_tenants.utils import tenant_context

    from franchise_platform.reporting.rollup import turnover_rollup_refresh

    with tenant_context(network):
        with connection.cursor() as cursor:
            # The seed saved every deal just now; in a living network they were saved over the year.
            cursor.execute("UPDATE payments_deal SET updated_at = updated_at - interval '1 hour'")
        start = time.perf_counter()
        first = turnover_rollup_refresh()
        built = time.perf_counter() - start
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE payments_deal SET updated_at = now() WHERE id IN "
                "(SELECT id FROM payments_deal ORDER BY random() LIMIT 100)"
            )
        start = time.perf_counter()
        again = turnover_rollup_refresh()
        refreshed = time.perf_counter() - start
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM reporting_dailyturnover")
            (rows,) = cursor.fetchone()
    return {
        "first_build": round(built, 2),
        "first_build_days": first.days_rebuilt,
        "refresh_after_100_changed_deals": round(refreshed, 2),
        "refresh_days_rebuilt": again.days_rebuilt,
        "rollup_rows": rows,
    }


def _background_export(net) -> dict[str, object]:
    """Every payment of the year as an XLSX, built the way the worker builds it (timed only: heap
    tracing slows openpyxl's writer several times over; its memory is the temporary file's)."""
    import io

    import openpyxl
    from django_tenants.utils import tenant_context

    from franchise_platform.panel.export_jobs import export_job_build
    from franchise_platform.reporting.models import ExportJob

    with tenant_context(net.network):
        job = ExportJob.objects.create(requested_by=net.owner.user(), kind="payments")
        start = time.perf_counter()
        state = export_job_build(job_id=str(job.pk))
        seconds = time.perf_counter() - start
        job.refresh_from_db()
        content = bytes(job.content or b"")
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).active
    return {
        "state": state,
        "seconds": round(seconds, 2),
        "bytes": len(content),
        "rows": sum(1 for _row in sheet.iter_rows(min_row=2)),
    }


def run() -> None:
    common.BENCH_DB = DATABASE
    common.setup_django(fresh=True)
    from django.utils import timezone

    from tests.personas import make_persona_network

    net = make_persona_network("dash-bench", "Дашборд")
    t0 = time.perf_counter()
    seeded = _seed(net.network, random.Random(18))
    seed_seconds = time.perf_counter() - t0
    rollup = _rollup(net.network)
    client = net.owner.browser_client()
    today = timezone.localdate()
    a_year = {"paid_from": (today - timedelta(days=364)).isoformat()}
    from django_tenants.utils import tenant_context

    from franchise_platform.network.models import Partner

    with tenant_context(net.network):
        partner = str(Partner.objects.order_by("name").values_list("pk", flat=True)[0])
    views = {
        "default_30_days_by_day": ("/panel/dashboard/", {}),
        "year_by_month": ("/panel/dashboard/", {**a_year, "grain": "month"}),
        "year_by_week": ("/panel/dashboard/", {**a_year, "grain": "week"}),
        "year_one_partner_by_week": (
            "/panel/dashboard/",
            {**a_year, "grain": "week", "partner": partner},
        ),
        "home_with_summary": ("/panel/", {}),
    }
    # Other work on this machine slows every figure: the load is recorded beside them.
    load_before = os.getloadavg()
    pages = {
        name: _time_page(client, path, params, SAMPLES) for name, (path, params) in views.items()
    }
    load_after = os.getloadavg()
    explain = {
        "default_30_days_by_day": _explain(client, net.network, {}),
        "year_by_month": _explain(client, net.network, views["year_by_month"][1]),
    }
    # The CSV of the whole year (streamed, no limit); the XLSX of the last 7 days, within
    # XLSX_SYNC_MAX_ROWS (built in the request); the XLSX of the whole year as the worker builds
    # it (panel/export_jobs.py, here in process).
    days_7 = {"paid_from": (today - timedelta(days=6)).isoformat()}
    exports = {
        "payments_csv_all": _export(client, "/panel/payments/export.csv", {}),
        "payments_xlsx_7_days_in_request": _export(client, "/panel/payments/export.xlsx", days_7),
        "payments_xlsx_all_in_background": _background_export(net),
    }
    p95 = max(figures["p95"] for figures in pages.values())
    write_result(
        "dashboard",
        {
            "goal": "p95 of the dashboard page <= 300 ms with 100,000 paid deals in one network",
            "measured": "Django's request path in process (test client, signed-in owner), seconds",
            "seeded": seeded,
            "seed_seconds": round(seed_seconds, 1),
            "rollup_seconds": rollup,
            "pages_seconds": pages,
            "load_average_1m_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
            "statements_of_one_view": explain,
            "exports": exports,
            "worst_p95_seconds": p95,
            "goal_met": p95 <= GOAL_SECONDS,
        },
    )
