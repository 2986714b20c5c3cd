"""Beat tasks: draft the closed month's statements and send the weekly summaries, per network."""

from __future__ import annotations

from celery import shared_task
from django.db import connection
from django_tenants.utils import tenant_context

from franchise_platform.tasks import NetworkTask, PlatformTask


@shared_task(base=PlatformTask, name="royalties.draft_all_networks")
def royalties_draft_all_networks() -> int:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from tenants.selectors import networks_active

    count = 0
    for network in networks_active():
        with tenant_context(network):
            royalties_draft_network.delay()
        count += 1
    return count


@shared_task(base=NetworkTask, name="royalties.draft_network")
def royalties_draft_network() -> int:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from .services import statements_draft_closed_month

    return statements_draft_closed_month()


@shared_task(base=PlatformTask, name="royalties.summaries_all_networks")
def summaries_all_networks() -> int:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from tenants.selectors import networks_active

    count = 0
    for network in networks_active():
        with tenant_context(network):
            summaries_network_send.delay()
        count += 1
    return count


@shared_task(base=NetworkTask, name="royalties.summaries_network")
def summaries_network_send() -> int:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from tenants.services import network_base_url

    # local: task body; tasks modules stay import-light so that services import them at the top
    from .summary import weekly_summaries_send

    network = connection.tenant  # type: ignore[attr-defined]
    return weekly_summaries_send(
        network_name=network.name, panel_url=network_base_url(network) + "/panel/"
    )
