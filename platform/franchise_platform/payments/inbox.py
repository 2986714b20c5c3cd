"""How much of the callback inbox refused notifications may take.

Refused notifications are kept for the owner to see why a shop's payments do not arrive (a wrong
Password #2, a test notification to a live shop). But the callback addresses are public and a
refusal costs the sender nothing, so a flood of forged notifications would grow the inbox without
bound. Each shop (and, together, every address that names no shop of the network) therefore keeps
at most `CALLBACK_REFUSED_KEPT_PER_HOUR` refused notifications in any hour; the rest are still
answered 400 at once, written nowhere, and counted in `fp_provider_callbacks_refused_not_kept`.
Accepted notifications are never capped: each names one of our invoices and is stored once.

The count and the insert are not atomic: a burst of concurrent requests can store a few more than
the cap (at most one per request in flight), which bounds the growth all the same.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from franchise_platform.observability.metrics import metric_callback_refused_not_kept

from .models import CallbackEvent, CallbackStatus

WINDOW = timedelta(hours=1)
DEFAULT_KEPT_PER_WINDOW = 50


def refused_kept_per_window() -> int:
    return int(getattr(settings, "CALLBACK_REFUSED_KEPT_PER_HOUR", DEFAULT_KEPT_PER_WINDOW))


def refused_event_keep(
    *, partner_id: uuid.UUID | None, reason_code: str | None, provider: str
) -> bool:
    """True when a refused notification for the shop of `partner_id` (None: the address named no shop of this
    network) still fits in the inbox; otherwise counts it as not kept and returns False."""
    limit = refused_kept_per_window()
    recent = CallbackEvent.objects.filter(
        status=CallbackStatus.REFUSED, received_at__gte=timezone.now() - WINDOW
    )
    recent = (
        recent.filter(partner_id=partner_id) if partner_id else recent.filter(partner__isnull=True)
    )
    # LIMIT inside the count: never more than `limit` rows are read, however large the flood.
    if recent.order_by().values("pk")[:limit].count() < limit:
        return True
    metric_callback_refused_not_kept(reason=reason_code, provider=provider)
    return False
