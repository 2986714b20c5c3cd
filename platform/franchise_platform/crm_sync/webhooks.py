"""amoCRM webhooks: subscribed with a per-account secret in the URL; intake is quick and queues the
work; every value is an untrusted string and the lead is re-read from the API, never trusted."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django_tenants.utils import schema_context, tenant_context

from crm_connectors import registry
from franchise_platform.db import schema_to_public
from tenants.models import CrmAccountBinding

from .connectors import connector_for
from .models import ConnectionStatus, CrmConnection
from .tasks import lead_refresh

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/integrations/{crm}/webhook/{secret}/"


def webhook_url(secret: str, crm: str = "amocrm") -> str:
    return settings.PLATFORM_BASE_URL + WEBHOOK_PATH.format(crm=crm, secret=secret)


def webhook_subscribe() -> None:
    """Subscribe this network's connection (current schema) to lead events."""
    crm = CrmConnection.objects.filter(status=ConnectionStatus.CONNECTED).first()
    if crm is None:
        return
    with schema_context("public"):
        secret = CrmAccountBinding.objects.values_list("webhook_secret", flat=True).get(
            crm=crm.crm, account_id=crm.account_id
        )
    if secret:
        connector = connector_for(crm, background=True)
        connector.subscribe_webhook(webhook_url(secret, crm.crm))
        connector.subscribe_uninstall(webhook_url(secret, crm.crm))


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
    if registry.crm_app(binding.crm).events is not None:
        # Its events are believed only with their install's secret (crm_event_receive).
        return -1
    events = registry.connector_class(binding.crm).parse_webhook(form)
    # Account ids are compared as strings: the binding holds amoCRM's integer in decimal.
    lead_ids = sorted(
        {event.lead_id for event in events if str(event.account_id) == binding.account_id}
    )
    with tenant_context(binding.network):
        for lead_id in lead_ids:
            lead_refresh.delay(lead_id)
    schema_to_public()
    return len(lead_ids)


@dataclass(frozen=True)
class EventOutcome:
    """What the view answers: an HTTP status and a body (``{"detail","code"}`` when refused)."""

    status: int
    body: dict[str, object]


def _refused(status: int, detail: str, code: str) -> EventOutcome:
    return EventOutcome(status, {"detail": detail, "code": code})


def crm_event_receive(*, crm: str, body: bytes, secret: str | None = None) -> EventOutcome:
    """An event a CRM with per-install secrets posted (Bitrix24, spec §6.3): believed only when
    its account is one we hold (by the URL's secret, or by its account id) and its
    `application_token` equals the one saved at install (constant time). A deal event queues a
    re-read of the deal in the account's network; an uninstall revokes the account. Anything
    refused changes nothing."""
    app = registry.crm_app(crm)
    if app.events is None:
        return _refused(404, "Unknown webhook.", "unknown_webhook")
    event = app.events.parse(body)
    if event is None:
        return _refused(400, "Malformed event.", "bad_event")
    with schema_context("public"):
        bindings = CrmAccountBinding.objects.select_related("network").filter(crm=crm)
        if secret is not None:
            binding = bindings.filter(webhook_secret=secret).first()
            if binding is None:
                return _refused(404, "Unknown webhook.", "unknown_webhook")
        else:
            binding = bindings.filter(account_id=event.account_id).first()
        if (
            binding is None
            or binding.account_id != event.account_id
            or binding.state == CrmAccountBinding.State.REVOKED
            or not app.events.verify(event.application_token, binding.application_token or "")
        ):
            logger.warning("%s event for account %s refused", crm, event.account_id)
            return _refused(403, "Event not verified.", "bad_application_token")
        if event.kind == "uninstall":
            return _account_uninstalled(crm=crm, binding=binding)
    if event.kind != "lead" or binding.state != CrmAccountBinding.State.BOUND:
        return EventOutcome(200, {"queued": 0})
    assert binding.network is not None
    with tenant_context(binding.network):
        for lead_id in sorted(set(event.lead_ids)):
            lead_refresh.delay(lead_id)
    schema_to_public()
    return EventOutcome(200, {"queued": len(set(event.lead_ids))})


def _account_uninstalled(*, crm: str, binding: CrmAccountBinding) -> EventOutcome:
    """§2.4: the app is gone from the account: its tokens stop working, nothing is refreshed or
    sent any more, the network sees the connection revoked. A reinstall starts over (claim)."""
    title = registry.crm_app(crm).title
    with transaction.atomic():
        CrmAccountBinding.objects.filter(pk=binding.pk).update(
            state=CrmAccountBinding.State.REVOKED,
            pending_access_token=None,
            pending_refresh_token=None,
            pending_expires_at=None,
            application_token=None,
            claim_code_hash="",
            claim_code_expires_at=None,
        )
    if binding.network is not None:
        with tenant_context(binding.network):
            CrmConnection.objects.filter(crm=crm, account_id=binding.account_id).update(
                status=ConnectionStatus.REVOKED,
                access_token=None,
                refresh_token=None,
                last_error=f"Приложение удалено из {title}",
            )
        schema_to_public()
    logger.info("%s account %s uninstalled", crm, binding.account_id)
    return EventOutcome(200, {"status": "revoked"})
