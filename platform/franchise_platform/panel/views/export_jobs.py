"""A background XLSX export's page (it refreshes itself until the file is ready), its small JSON
status and the file's download. Another network's job is another schema's row, and a partner
user sees only its partner's jobs: any other id answers 404, like a missing one."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse

from franchise_platform.reporting.models import ExportJob, ExportState

from ..access import page, panel_view
from ..export_jobs import export_job_get
from .exports import XLSX_TYPE

# Seconds between the page's own refreshes while the file is being built.
REFRESH_SECONDS = 2


def _job(request: HttpRequest, job_id: str) -> ExportJob:
    try:
        return export_job_get(job_id=job_id, user=request.user)
    except ExportJob.DoesNotExist:
        raise Http404 from None


def _status(job: ExportJob) -> dict[str, object]:
    done = job.state == ExportState.DONE
    return {
        "id": str(job.pk),
        "kind": job.kind,
        "state": job.state,
        "rows_done": job.rows_done,
        "rows_total": job.rows_total,
        "percent": job.percent,
        "download_url": reverse("panel:export_job_download", args=[job.pk]) if done else None,
    }


@panel_view(scoped=True)
def export_job(request: HttpRequest, job_id: str) -> HttpResponse:
    job = _job(request, job_id)
    finished = job.state in (ExportState.DONE, ExportState.FAILED)
    list_url = reverse("panel:deal_list" if job.kind == "deals" else "panel:payment_list")
    return page(
        request,
        "panel/export_job.html",
        {
            "job": job,
            "status": _status(job),
            "refresh_seconds": None if finished else REFRESH_SECONDS,
            "list_url": list_url,
        },
    )


@panel_view(scoped=True)
def export_job_status(request: HttpRequest, job_id: str) -> HttpResponse:
    return JsonResponse(_status(_job(request, job_id)))


@panel_view(scoped=True)
def export_job_download(request: HttpRequest, job_id: str) -> HttpResponse:
    job = _job(request, job_id)
    if job.state != ExportState.DONE:
        raise Http404
    content = ExportJob.objects.filter(pk=job.pk).values_list("content", flat=True).get()
    response = HttpResponse(bytes(content or b""), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{job.filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
