"""What the platform's operators do to a network: suspend, resume, export, delete. Each action is
written to the operators' audit log (the public schema's AuditEntry).

While a network is suspended its panel is read-only (panel/access.py), the widget answers 403
(crm_sync/widget_api.py) and /pay/ says payment is unavailable (payments/views.py); provider
callbacks are still verified, recorded and applied, because the money has moved already.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import IO

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from franchise_platform.security.audit import audit_record
from franchise_platform.security.models import AuditEntry

from .errors import NetworkError
from .export import ExportSummary, network_export_write
from .models import CrmAccountBinding, Domain, Network

logger = logging.getLogger(__name__)

# Deleting needs an export made this recently: the ZIP the operator keeps is the last copy.
EXPORT_FRESH_FOR = timedelta(hours=24)


class OperationRefused(NetworkError):
    status = 409


def _audit(
    *, actor: str, action: str, network: Network, ip_address: str | None, **changes: object
) -> None:
    with schema_context("public"):
        audit_record(
            actor=actor,
            action=action,
            obj=network,
            changes={name: (None, value) for name, value in changes.items()},
            ip_address=ip_address,
        )


def _status_set(
    *, network: Network, status: str, action: str, actor: str, ip_address: str | None, reason: str
) -> Network:
    with schema_context("public"), transaction.atomic():
        locked = Network.objects.select_for_update().get(pk=network.pk)
        if locked.status == status:
            return locked
        previous = locked.status
        locked.status = status
        locked.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action=action,
            obj=locked,
            changes={"status": (previous, status), "reason": (None, reason)},
            ip_address=ip_address,
        )
    logger.info("%s: %s by %s", locked.slug, action, actor)
    return locked


def network_suspend(
    *, network: Network, actor: str, ip_address: str | None = None, reason: str = ""
) -> Network:
    """Make the network read-only (idempotent)."""
    return _status_set(
        network=network,
        status=Network.Status.SUSPENDED,
        action="network.suspend",
        actor=actor,
        ip_address=ip_address,
        reason=reason,
    )


def network_resume(*, network: Network, actor: str, ip_address: str | None = None) -> Network:
    """Let the network work again (idempotent)."""
    return _status_set(
        network=network,
        status=Network.Status.ACTIVE,
        action="network.resume",
        actor=actor,
        ip_address=ip_address,
        reason="",
    )


def network_export(
    *, network: Network, out: IO[bytes], actor: str, ip_address: str | None = None
) -> ExportSummary:
    """Write the network's data without secrets into `out` (tenants/export.py) and note it."""
    summary = network_export_write(network=network, out=out)
    _audit(
        actor=actor,
        action="network.export",
        network=network,
        ip_address=ip_address,
        rows=sum(summary.rows.values()),
    )
    return summary


def network_last_export_at(*, network: Network) -> datetime | None:
    with schema_context("public"):
        return (
            AuditEntry.objects.filter(
                action="network.export", object_type="Network", object_id=str(network.pk)
            )
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )


def network_delete(
    *, network: Network, confirmation: str, actor: str, ip_address: str | None = None
) -> None:
    """Drop the network's schema and its public rows (bindings, domains), for good.

    Refused (OperationRefused) unless `confirmation` is the network's slug typed out and an export
    was made within EXPORT_FRESH_FOR."""
    if (confirmation or "").strip() != network.slug:
        raise OperationRefused(
            _("Для удаления введите адрес сети точно: %(slug)s") % {"slug": network.slug},
            "confirmation_mismatch",
        )
    exported_at = network_last_export_at(network=network)
    if exported_at is None or timezone.now() - exported_at > EXPORT_FRESH_FOR:
        raise OperationRefused(
            _("Сначала выгрузите данные сети: удалить можно в течение суток после выгрузки."),
            "export_required",
        )
    slug, schema = network.slug, network.schema_name
    with schema_context("public"), transaction.atomic():
        bindings = CrmAccountBinding.objects.filter(network=network).delete()[0]
        domains = Domain.objects.filter(tenant=network).delete()[0]
        audit_record(
            actor=actor,
            action="network.delete",
            obj=network,
            changes={
                "slug": (slug, None),
                "schema": (schema, None),
                "crm_bindings": (bindings, 0),
                "domains": (domains, 0),
            },
            ip_address=ip_address,
        )
        Network.objects.get(pk=network.pk).delete(force_drop=True)
    logger.info("network %s deleted by %s", slug, actor)
