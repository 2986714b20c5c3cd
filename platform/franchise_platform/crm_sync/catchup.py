"""Catching up on CRM events missed while we could not be reached (Bitrix24's offline queue,
spec §6.5: its online events are never re-sent, so after downtime this is the only record).

The queue is read in its safe mode (§6.5): ``clear=0`` under the connection's own process id
holds the records; the re-reads are queued when the transaction commits, and only then are
exactly those records cleared, so a drain killed in between loses nothing. One drain runs per
connection at a time (the row lock, skipped when another holds it) and every deal it names is
re-read once, from the CRM, by the same task a live event queues. Runs from beat and when a
connection is made or remade (connect.network_bind).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django_tenants.utils import schema_context, tenant_context

from crm_connectors import registry
from crm_connectors.base import CatchUpBatch, CrmConnector
from crm_connectors.errors import CrmError
from franchise_platform.db import schema_to_public
from tenants.models import CrmAccountBinding
from tenants.selectors import networks_active

from .connectors import connector_for
from .models import ConnectionStatus, CrmConnection
from .tasks import crm_events_catch_up as crm_events_catch_up_task
from .tasks import lead_refresh

logger = logging.getLogger(__name__)


# Reservations one drain takes at most (each up to a page of records, Bitrix24: 50).
MAX_BATCHES = 20


def crm_events_catch_up() -> int:
    """Current schema: drain the connected CRM's kept events and queue one re-read per deal.
    Returns the number of deals queued (0 when another drain holds the connection, when the CRM
    keeps no events, or when it cannot be reached: the next run takes them)."""
    crm = CrmConnection.objects.filter(status=ConnectionStatus.CONNECTED).first()
    if crm is None or registry.crm_app(crm.crm).events is None:
        return 0
    queued: set[int] = set()
    for _ in range(MAX_BATCHES):
        batch = _batch_take(crm)
        if batch is None:
            break
        fresh = {event.lead_id for event in batch.events} - queued
        queued |= fresh
        # A batch with nothing new: the records are held until our own commit (an outer
        # transaction), or the CRM has no more.
        if not batch.full or not fresh:
            break
    if queued:
        logger.info("%s account %s: %d deals to re-read", crm.crm, crm.account_id, len(queued))
    return len(queued)


def _batch_take(crm: CrmConnection) -> CatchUpBatch | None:
    """One reservation: the records are held, not forgotten (§6.5 safe mode), their re-reads are
    queued once this transaction commits, and only then are exactly those records cleared. A
    drain killed before the commit loses nothing: the next one is handed the same records
    (the process id is the connection's own, so it survives the crash)."""
    with transaction.atomic():
        locked = (
            CrmConnection.objects.select_for_update(skip_locked=True)
            .filter(pk=crm.pk, status=ConnectionStatus.CONNECTED)
            .first()
        )
        if locked is None:
            return None
        connector = connector_for(locked, background=True)
        try:
            batch = connector.catch_up_reserve(process_id=offline_process_id(locked))
        except CrmError as exc:
            logger.warning("%s account %s: catch-up failed: %s", crm.crm, crm.account_id, exc.code)
            return None
        lead_ids = sorted({event.lead_id for event in batch.events})
        transaction.on_commit(lambda: _refreshes_queue(lead_ids, connector, batch))
    return batch


def offline_process_id(crm: CrmConnection) -> str:
    """The name our reservations in the CRM's queue go by: stable per connection, so a drain
    after a crash asks for the records the crashed one held."""
    return crm.pk.hex


def _refreshes_queue(lead_ids: list[int], connector: CrmConnector, batch: CatchUpBatch) -> None:
    for lead_id in lead_ids:
        lead_refresh.delay(lead_id)
    try:
        connector.catch_up_acknowledge(batch)
    except CrmError as exc:
        # Still held under our process id: the next drain gets (and re-reads) them again.
        logger.warning("catch-up: records not cleared (%s); the next drain re-reads", exc.code)


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
