"""Catching up on CRM events missed while we could not be reached (Bitrix24's offline queue,
spec §6.5: its online events are never re-sent, so after downtime this is the only record).

The queue hands each record out once (``clear=1``: what it returns is gone), so one drain runs
per connection at a time (the row lock, skipped when another holds it) and every deal it names
is re-read once, from the CRM, by the same task a live event queues. Runs from beat and when a
connection is made or remade (connect.network_bind).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django_tenants.utils import schema_context, tenant_context

from crm_connectors import registry
from crm_connectors.errors import CrmError
from franchise_platform.db import schema_to_public
from tenants.models import CrmAccountBinding
from tenants.selectors import networks_active

from .connectors import connector_for
from .models import ConnectionStatus, CrmConnection
from .tasks import crm_events_catch_up as crm_events_catch_up_task
from .tasks import lead_refresh

logger = logging.getLogger(__name__)


def crm_events_catch_up() -> int:
    """Current schema: drain the connected CRM's kept events and queue one re-read per deal.
    Returns the number of deals queued (0 when another drain holds the connection, when the CRM
    keeps no events, or when it cannot be reached: the next run takes them)."""
    crm = CrmConnection.objects.filter(status=ConnectionStatus.CONNECTED).first()
    if crm is None or registry.crm_app(crm.crm).events is None:
        return 0
    with transaction.atomic():
        locked = (
            CrmConnection.objects.select_for_update(skip_locked=True)
            .filter(pk=crm.pk, status=ConnectionStatus.CONNECTED)
            .first()
        )
        if locked is None:
            return 0
        try:
            events = connector_for(locked, background=True).catch_up_events()
        except CrmError as exc:
            logger.warning("%s account %s: catch-up failed: %s", crm.crm, crm.account_id, exc.code)
            return 0
        lead_ids = sorted({event.lead_id for event in events})
        transaction.on_commit(lambda: _refreshes_queue(lead_ids))
    if lead_ids:
        logger.info("%s account %s: %d deals to re-read", crm.crm, crm.account_id, len(lead_ids))
    return len(lead_ids)


def _refreshes_queue(lead_ids: list[int]) -> None:
    for lead_id in lead_ids:
        lead_refresh.delay(lead_id)


def crm_events_catch_up_networks() -> list[str]:
    """The networks bound to a CRM that keeps events for us (public schema): the fan-out's list."""
    slugs = [slug for slug in registry.APPS if registry.crm_app(slug).events is not None]
    with schema_context("public"):
        bound = CrmAccountBinding.objects.filter(
            crm__in=slugs, state=CrmAccountBinding.State.BOUND, network__isnull=False
        ).values("network_id")
        networks = list(networks_active().filter(pk__in=bound))
    for network in networks:
        with tenant_context(network):
            crm_events_catch_up_task.delay()
    schema_to_public()
    return [network.slug for network in networks]
