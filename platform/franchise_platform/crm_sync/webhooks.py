"""amoCRM webhooks: subscribed with a per-account secret in the URL; intake is quick and queues the
work; every value is an untrusted string and the lead is re-read from the API, never trusted."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from django.conf import settings
from django_tenants.utils import schema_context, tenant_context

from crm_connectors import registry
from franchise_platform.db import schema_to_public
from tenants.models import CrmAccountBinding

from .connectors import connector_for
from .models import ConnectionStatus, CrmConnection
from .tasks import lead_refresh

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/integrations/amocrm/webhook/{secret}/"


def webhook_url(secret: str) -> str:
    return settings.PLATFORM_BASE_URL + WEBHOOK_PATH.format(secret=secret)


def webhook_subscribe() -> None:
    """Subscribe this network's connection (current schema) to lead events."""
    crm = CrmConnection.objects.filter(status=ConnectionStatus.CONNECTED).first()
    if crm is None:
        return
    with schema_context("public"):
        secret = CrmAccountBinding.objects.values_list("webhook_secret", flat=True).get(
            account_id=crm.account_id
        )
    if secret:
        connector_for(crm, background=True).subscribe_webhook(webhook_url(secret))


def webhook_receive(*, secret: str, form: Mapping[str, Sequence[str]]) -> int:
    """Find the network by the URL's secret, parse the events, queue one refresh per lead.
    Returns the number queued; an unknown secret queues nothing (and the caller says 404)."""
    with schema_context("public"):
        binding = (
            CrmAccountBinding.objects.select_related("network")
            .filter(webhook_secret=secret, state=CrmAccountBinding.State.BOUND)
            .first()
        )
    if binding is None or binding.network is None:
        return -1
    events = registry.connector_class(binding.crm).parse_webhook(form)
    lead_ids = sorted({event.lead_id for event in events if event.account_id == binding.account_id})
    with tenant_context(binding.network):
        for lead_id in lead_ids:
            lead_refresh.delay(lead_id)
    schema_to_public()
    return len(lead_ids)
