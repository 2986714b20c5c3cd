"""XLSX exports past XLSX_SYNC_MAX_ROWS are built in the background: a job row, a task queued on
commit, a progress page and JSON status, the file downloadable by the network's authorised users
(a partner user only its partner's jobs); another network's or partner's job is a 404. Old jobs
are cleaned up by beat."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import openpyxl
import pytest
from django.test import Client
from django.utils import timezone

from franchise_platform.accounts.models import Role
from franchise_platform.accounts.services import user_create
from franchise_platform.panel.export_jobs import export_job_build, export_jobs_sweep
from franchise_platform.reporting.models import ExportJob, ExportState
from tests.panel_payments.conftest import owner  # noqa: F401  (fixture)

from .test_dashboard_exports import HOSTILE, rows  # noqa: F401  (fixture)

PASSWORD = "Franchisee-pass-2026"
SYNC = "franchise_platform.panel.views.exports.XLSX_SYNC_MAX_ROWS"


def _partner_client(in_network, partner, email):
    user = user_create(email=email, password=PASSWORD, role=Role.PARTNER, partner_id=partner.pk)
    client = Client(HTTP_HOST=in_network.host)
    client.force_login(user)
    return client


def _book(body: bytes):
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    return [c.value for c in sheet[1]], list(sheet.iter_rows(min_row=2))


@pytest.mark.django_db
def test_a_large_xlsx_becomes_a_job_built_with_progress(
    in_network,
    owner,  # noqa: F811
    rows,  # noqa: F811
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    monkeypatch.setattr(SYNC, 2)
    queued = []
    monkeypatch.setattr(
        "franchise_platform.reporting.tasks.export_xlsx_build.delay",
        lambda job_id: queued.append(job_id),
    )

    with django_capture_on_commit_callbacks(execute=True):
        started = owner.get("/panel/payments/export.xlsx", {"paid_from": "2020-01-01"})

    job = ExportJob.objects.get()
    assert started.status_code == 302 and started["Location"] == f"/panel/exports/{job.pk}/"
    assert queued == [str(job.pk)]  # the task takes the id only, queued once committed
    assert (job.kind, job.state, job.rows_total) == ("payments", "queued", 3)
    assert job.filters == {"paid_from": "2020-01-01"} and job.partner_id is None
    waiting = owner.get(f"/panel/exports/{job.pk}/").content.decode()
    assert "В очереди" in waiting and 'hx-trigger="every 2s"' in waiting
    assert owner.get(f"/panel/exports/{job.pk}/download/").status_code == 404
    # Asking again within minutes shows the same job rather than building another.
    again = owner.get("/panel/payments/export.xlsx", {"paid_from": "2020-01-01"})
    assert again["Location"] == started["Location"] and ExportJob.objects.count() == 1

    assert export_job_build(job_id=str(job.pk)) == "done"
    assert export_job_build(job_id=str(job.pk)) == "not_queued"  # a redelivered message

    status = owner.get(f"/panel/exports/{job.pk}/status/").json()
    assert status == {
        "id": str(job.pk),
        "kind": "payments",
        "state": "done",
        "rows_done": 3,
        "rows_total": 3,
        "percent": 100,
        "download_url": f"/panel/exports/{job.pk}/download/",
    }
    done = owner.get(f"/panel/exports/{job.pk}/").content.decode()
    assert "hx-trigger" not in done and "Скачать XLSX" in done
    download = owner.get(status["download_url"])
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith('attachment; filename="payments-')
    assert download["Cache-Control"] == "private, no-store"
    header, body = _book(download.content)
    assert header[:3] == ["Когда оплачен", "Сумма, ₽", "Валюта"]
    titles = {r[6].value: r[6] for r in body}
    assert titles[HOSTILE].data_type == "s" and titles[HOSTILE].quotePrefix  # never a formula
    assert len(body) == 3


@pytest.mark.django_db
def test_partner_users_jobs_hold_only_their_rows_and_others_get_404(
    in_network,
    owner,  # noqa: F811
    owner_b,
    rows,  # noqa: F811
    monkeypatch,
):
    monkeypatch.setattr(SYNC, 0)
    monkeypatch.setattr(
        "franchise_platform.reporting.tasks.export_xlsx_build.delay", lambda _id: None
    )
    kazan = _partner_client(in_network, rows["kazan"], "kazan@partner.test")
    ufa = _partner_client(in_network, rows["ufa"], "ufa@partner.test")

    started = kazan.get("/panel/deals/export.xlsx", {"partner": str(rows["ufa"].pk)})
    job = ExportJob.objects.get()
    assert job.partner_id == rows["kazan"].pk
    export_job_build(job_id=str(job.pk))

    _header, body = _book(kazan.get(f"/panel/exports/{job.pk}/download/").content)
    assert [r[10].value for r in body] == ["@Альфа"]  # its own deal only, whatever it asked
    for path in ("", "status/", "download/"):
        assert kazan.get(f"/panel/exports/{job.pk}/{path}").status_code == 200
        assert ufa.get(f"/panel/exports/{job.pk}/{path}").status_code == 404
        assert owner.get(f"/panel/exports/{job.pk}/{path}").status_code == 200
        other = owner_b.browser_client()
        assert other.get(f"/panel/exports/{job.pk}/{path}").status_code == 404
        assert owner.get(f"/panel/exports/{uuid.uuid4()}/{path}").status_code == 404
        assert owner.get(f"/panel/exports/not-an-id/{path}").status_code == 404
    assert started.status_code == 302
    assert (
        Client(HTTP_HOST=in_network.host).get(f"/panel/exports/{job.pk}/download/").status_code
        == 302
    )


@pytest.mark.django_db
def test_beat_deletes_old_jobs_requeues_lost_ones_and_ends_dead_ones(
    in_network, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(
        "franchise_platform.reporting.tasks.export_xlsx_build.delay",
        lambda job_id: queued.append(job_id),
    )
    owner_user = in_network.owner.user()
    now = timezone.now()

    def job(state, age):
        made = ExportJob.objects.create(requested_by=owner_user, kind="payments", state=state)
        ExportJob.objects.filter(pk=made.pk).update(created_at=now - age)
        return made

    old = job(ExportState.DONE, timedelta(hours=25))
    fresh = job(ExportState.DONE, timedelta(hours=1))
    lost = job(ExportState.QUEUED, timedelta(minutes=6))
    waiting = job(ExportState.QUEUED, timedelta(seconds=10))
    dead = job(ExportState.RUNNING, timedelta(hours=2))

    with django_capture_on_commit_callbacks(execute=True):
        result = export_jobs_sweep(now=now)
    assert result == {"deleted": 1, "ended": 1, "requeued": 1}
    assert not ExportJob.objects.filter(pk=old.pk).exists()
    assert ExportJob.objects.filter(pk=fresh.pk).exists()
    assert ExportJob.objects.get(pk=dead.pk).state == "failed"
    assert ExportJob.objects.get(pk=waiting.pk).state == "queued"
    assert queued == [str(lost.pk)]


@pytest.mark.worker
def test_the_worker_builds_a_large_export_while_the_page_shows_progress(
    celery_worker, django_db_blocker, monkeypatch
):
    """The real path: the view queues on commit, the worker (another process) builds the file in
    the network's schema, the status JSON reaches "done" and the download holds every row."""
    from django.db import connection
    from django_tenants.utils import tenant_context

    from tenants.models import Network
    from tests.factories import shop
    from tests.live import wait_for
    from tests.personas import make_persona_network

    from .test_dashboard import days_ago, paid

    monkeypatch.setattr(SYNC, 10)
    slug = f"exp-{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock():
        net = make_persona_network(slug, "Выгрузки в фоне")
        try:
            with tenant_context(net.network):
                location = shop(merchant_login="bg-export").partner.locations.get()
                for n in range(30):
                    paid(location, amount=f"{100 + n}.00", paid_at=days_ago(n % 10))
            client = net.owner.browser_client()

            started = client.get("/panel/payments/export.xlsx")
            assert started.status_code == 302
            status_url = started["Location"] + "status/"
            wait_for(
                lambda: client.get(status_url).json()["state"] in ("done", "failed"),
                timeout=60,
                what="the worker builds the export",
            )
            status = client.get(status_url).json()
            assert status["state"] == "done" and status["rows_done"] == 30

            _header, body = _book(client.get(status["download_url"]).content)
            assert sorted(r[1].value for r in body) == [100 + n for n in range(30)]
        finally:
            connection.set_schema_to_public()
            Network.objects.get(slug=slug).delete(force_drop=True)
