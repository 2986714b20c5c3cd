"""The network's settings: the prepayment rule, the invoice lifetime, the receipt line."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from franchise_platform.payments.invoicing import invoices_retire_open
from franchise_platform.payments.models import InvoicePurpose
from franchise_platform.security.audit import audit_record

from .. import rules
from ..errors import reject_if_any
from ..models import NetworkSettings
from ..selectors import network_settings_get


@transaction.atomic
def network_settings_update(
    *,
    actor: str,
    prepayment_mode: str,
    prepayment_value: Decimal,
    invoice_ttl_hours: int,
    item_name: str,
    delivered_status_ids: list[int] | None = None,
    ip_address: str | None = None,
) -> NetworkSettings:
    """Replace the prepayment rule, the invoice lifetime and the receipt line template."""
    item_name = item_name.strip()
    reject_if_any(
        rules.settings_problems(
            prepayment_mode=prepayment_mode,
            prepayment_value=prepayment_value,
            invoice_ttl_hours=invoice_ttl_hours,
            item_name=item_name,
        )
        + rules.delivered_status_problems(delivered_status_ids)
    )
    obj = network_settings_get()
    new = {
        "prepayment_mode": prepayment_mode,
        "prepayment_value": prepayment_value.quantize(Decimal("0.01")),
        "invoice_ttl_hours": invoice_ttl_hours,
        "item_name": item_name,
    }
    if delivered_status_ids is not None:
        new["delivered_status_ids"] = sorted(set(delivered_status_ids))
    diff = {
        field: (getattr(obj, field), value)
        for field, value in new.items()
        if getattr(obj, field) != value
    }
    if diff:
        for field, (_old, value) in diff.items():
            setattr(obj, field, value)
        obj.save()
        if "item_name" in diff:
            # The receipt line is signed into every open invoice: none may be handed out again.
            invoices_retire_open(purpose=InvoicePurpose.LINK)
        audit_record(
            actor=actor, action="settings.update", obj=obj, changes=diff, ip_address=ip_address
        )
    return obj
