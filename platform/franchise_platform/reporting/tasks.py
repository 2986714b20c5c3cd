"""Beat tasks of the dashboard's rollup and of background exports (fanned out per network), and the
task that builds one export."""

from __future__ import annotations

from celery import shared_task
from django_tenants.utils import tenant_context

from franchise_platform.tasks import NetworkTask, PlatformTask


@shared_task(base=PlatformTask, name="reporting.rollup_all_networks")
def rollup_all_networks() -> int:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from tenants.selectors import networks_active

    count = 0
    for network in networks_active():
        with tenant_context(network):
            rollup_network.delay()
        count += 1
    return count


@shared_task(base=NetworkTask, name="reporting.rollup_network")
def rollup_network() -> int:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from .rollup import turnover_rollup_refresh

    return turnover_rollup_refresh().days_rebuilt


@shared_task(base=PlatformTask, name="reporting.exports_cleanup_all_networks")
def exports_cleanup_all_networks() -> int:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from tenants.selectors import networks_active

    count = 0
    for network in networks_active():
        with tenant_context(network):
            exports_cleanup_network.delay()
        count += 1
    return count


@shared_task(base=NetworkTask, name="reporting.exports_cleanup_network")
def exports_cleanup_network() -> dict[str, int]:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from franchise_platform.panel.export_jobs import export_jobs_sweep

    return export_jobs_sweep()


# A workbook of a million rows takes minutes; the default limits (240/300 s) suit other tasks.
@shared_task(
    base=NetworkTask, name="reporting.export_xlsx_build", soft_time_limit=1800, time_limit=1900
)
def export_xlsx_build(job_id: str) -> str:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from franchise_platform.panel.export_jobs import export_job_build

    return export_job_build(job_id=job_id)
