"""XLSX exports too large to build within a web request, built by a Celery task instead.

A job row records who asked, what (payments or deals, and the list's filter as it was given), how
far the task got and, once done, the file itself (reporting.ExportJob.content: in the database, so
only the panel's own view, with its access checks, ever serves it). The task takes only the job's
id; it rebuilds the rows from the filter, confined as the person who asked is confined, and writes
them through SpreadsheetSafeXlsx like the synchronous export. The beat task deletes jobs past
EXPORT_KEEP, re-queues a job whose message was lost and ends one whose worker died.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from franchise_platform.accounts.models import User
from franchise_platform.payments.models import Deal, Payment
from franchise_platform.payments.selectors import _uuid_or_none, deal_search, payment_search
from franchise_platform.reporting.models import ExportJob, ExportKind, ExportState
from franchise_platform.reporting.tasks import export_xlsx_build
from franchise_platform.scoping import confine, scope_partner_id
from franchise_platform.security.spreadsheets import SpreadsheetSafeXlsx

from .export_rows import DEAL_COLUMNS, PAYMENT_COLUMNS, deal_row, payment_row
from .filters import DealFilter, PaymentFilter

logger = logging.getLogger(__name__)

CHUNK = 2000
PROGRESS_EVERY = 1000
EXPORT_KEEP = timedelta(hours=24)
# A queued job whose message was lost is queued again after this long; a running one whose worker
# died (its task's time limit is far shorter) is ended as failed.
REQUEUE_AFTER = timedelta(minutes=5)
RUNNING_AT_MOST = timedelta(hours=1)
# The same person asking for the same export again within this time is shown the same job.
SAME_JOB_WITHIN = timedelta(minutes=10)
SPOOL_IN_MEMORY = 8 * 1024 * 1024


def _queue(job_id: str) -> None:
    transaction.on_commit(lambda: export_xlsx_build.delay(job_id))


def export_job_start(
    *, user: Any, kind: str, filters: dict[str, str], rows_total: int, language: str
) -> ExportJob:
    """A job for this export (the person's recent identical one if there is one), queued."""
    partner_id = scope_partner_id(user)
    recent = (
        ExportJob.objects.filter(
            requested_by=user,
            partner_id=partner_id,
            kind=kind,
            filters=filters,
            created_at__gte=timezone.now() - SAME_JOB_WITHIN,
        )
        .exclude(state=ExportState.FAILED)
        .order_by("-created_at")
        .first()
    )
    if recent is not None:
        return recent
    with transaction.atomic():
        job = ExportJob.objects.create(
            requested_by=user,
            partner_id=partner_id,
            kind=kind,
            filters=filters,
            language=language[:8],
            rows_total=rows_total,
        )
        _queue(str(job.pk))
    return job


def export_job_get(*, job_id: str, user: Any) -> ExportJob:
    """The job if this person may see it: the network's roles see the network's jobs, a partner
    user only its partner's. Raises ExportJob.DoesNotExist (also for a malformed id)."""

    pk = _uuid_or_none(job_id)
    if pk is None:
        raise ExportJob.DoesNotExist
    jobs = ExportJob.objects.defer("content")
    partner_id = scope_partner_id(user)
    if partner_id is not None:
        jobs = jobs.filter(partner_id=partner_id)
    return jobs.get(pk=pk)


def _query(filters: dict[str, str]) -> QueryDict:
    data = QueryDict(mutable=True)
    for key, value in filters.items():
        data[key] = value
    return data


def export_rows(job: ExportJob) -> tuple[str, str, Any, QuerySet[Any], Iterator[list[object]]]:
    """(file name stem, sheet title, columns, the rows' queryset, the typed rows) of a job, confined
    as its requester is and to the partner recorded on it."""
    user = job.requested_by
    data = _query(job.filters)
    if job.kind == ExportKind.DEALS:
        deals: QuerySet[Deal] = confine(
            deal_search(**DealFilter(data, user=user).search_args()), user=user
        )
        if job.partner_id:
            deals = deals.filter(partner_id=job.partner_id)
        return (
            "deals",
            _("Сделки"),
            DEAL_COLUMNS,
            deals,
            (deal_row(d, typed=True) for d in deals.iterator(CHUNK)),
        )
    payments: QuerySet[Payment] = confine(
        payment_search(**PaymentFilter(data, user=user).search_args()), user=user
    )
    if job.partner_id:
        payments = payments.filter(partner_id=job.partner_id)
    return (
        "payments",
        _("Платежи"),
        PAYMENT_COLUMNS,
        payments,
        (payment_row(p, typed=True) for p in payments.iterator(CHUNK)),
    )


def export_job_build(*, job_id: str) -> str:
    """Build the job's workbook (the task's body). Idempotent: only a queued job is taken (a
    second delivery of its message finds it running or done and leaves it)."""
    taken = ExportJob.objects.filter(pk=job_id, state=ExportState.QUEUED).update(
        state=ExportState.RUNNING
    )
    if not taken:
        return "not_queued"
    job = ExportJob.objects.defer("content").get(pk=job_id)
    requester = User.objects.filter(pk=job.requested_by_id).first()
    if requester is not None:
        job.requested_by = requester
    if requester is None or not requester.is_active:
        ExportJob.objects.filter(pk=job.pk).update(
            state=ExportState.FAILED, error="inactive_user", finished_at=timezone.now()
        )
        return "failed"
    try:
        with translation.override(job.language):
            stem, title, columns, queryset, rows = export_rows(job)
            total = queryset.count()
            ExportJob.objects.filter(pk=job.pk).update(rows_total=total)
            book = SpreadsheetSafeXlsx(title=title)
            book.writerow([str(label) for _code, label in columns])
            done = 0
            for done, row in enumerate(rows, 1):
                book.writerow(row)
                if done % PROGRESS_EVERY == 0:
                    ExportJob.objects.filter(pk=job.pk).update(rows_done=done)
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as out:
                book.save(out)  # type: ignore[arg-type]
                out.seek(0)
                content = out.read()
    except Exception:
        logger.exception("export job %s failed", job.pk)
        ExportJob.objects.filter(pk=job.pk).update(
            state=ExportState.FAILED, error="build_failed", finished_at=timezone.now()
        )
        raise
    stamp = timezone.localtime(job.created_at).strftime("%Y-%m-%d")
    ExportJob.objects.filter(pk=job.pk).update(
        state=ExportState.DONE,
        rows_done=done,
        rows_total=done,
        content=content,
        size=len(content),
        filename=f"{stem}-{stamp}.xlsx",
        finished_at=timezone.now(),
    )
    return "done"


def export_jobs_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Delete jobs past EXPORT_KEEP (their files with them), re-queue queued ones whose message
    was lost, end running ones whose worker died."""
    now = now or timezone.now()
    deleted, _by_model = ExportJob.objects.filter(created_at__lt=now - EXPORT_KEEP).delete()
    ended = ExportJob.objects.filter(
        state=ExportState.RUNNING, created_at__lt=now - RUNNING_AT_MOST
    ).update(state=ExportState.FAILED, error="worker_lost", finished_at=now)
    requeued = 0
    for job_id in ExportJob.objects.filter(
        state=ExportState.QUEUED, created_at__lt=now - REQUEUE_AFTER
    ).values_list("pk", flat=True):
        with transaction.atomic():
            _queue(str(job_id))
        requeued += 1
    return {"deleted": deleted, "ended": ended, "requeued": requeued}
