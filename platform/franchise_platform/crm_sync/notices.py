"""Telling the owner that CRM updates went dead: one e-mail per batch of rows, not one per row.

Run by the sweeper. Rows dead and not yet told about are locked (a second sweeper skips them),
the e-mail goes to the network's owners, and the rows are stamped in the same transaction: a mail
server that refuses leaves them for the next sweep. At most one e-mail per
OUTBOX_DEAD_NOTICE_MINUTES; rows that die meanwhile go into the next one.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection as db
from django.db import transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import translation

from franchise_platform.accounts.models import Role, User
from tenants.services import network_base_url

from .clock import outbox_now
from .models import OutboxKind, OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)


def outbox_dead_notify() -> int:
    """E-mail the owners about dead rows not yet told about. Returns how many rows the e-mail
    covered (0 when none, too soon after the last one, or nobody to tell)."""
    now = outbox_now()
    last = OutboxMessage.objects.aggregate(last=Max("dead_notified_at"))["last"]
    if last is not None and now - last < timedelta(minutes=settings.OUTBOX_DEAD_NOTICE_MINUTES):
        return 0
    recipients = list(
        User.objects.filter(role=Role.OWNER, is_active=True)
        .order_by("pk")
        .values_list("email", flat=True)
    )
    try:
        with transaction.atomic():
            batch = list(
                OutboxMessage.objects.select_for_update(skip_locked=True)
                .filter(status=OutboxStatus.DEAD, dead_notified_at__isnull=True)
                .values_list("pk", "kind")
            )
            if not batch or not recipients:
                return 0
            _send(recipients, kinds=Counter(kind for _, kind in batch), count=len(batch))
            OutboxMessage.objects.filter(pk__in=[pk for pk, _ in batch]).update(
                dead_notified_at=now
            )
    except Exception:  # the mail server refused: the rows stay untold, the next sweep tries
        logger.exception("dead CRM updates: owner e-mail not sent")
        return 0
    logger.info("owners told about %s dead CRM updates", len(batch))
    return len(batch)


def _send(recipients: list[str], *, kinds: Counter[str], count: int) -> None:
    network = db.tenant  # type: ignore[attr-defined]
    context = {
        "network_name": network.name,
        "count": count,
        "total": OutboxMessage.objects.filter(status=OutboxStatus.DEAD).count(),
        "kinds": [(OutboxKind(kind).label, n) for kind, n in kinds.most_common()],
        "link": f"{network_base_url(network)}/panel/integrations/#dead",
        "hours": settings.OUTBOX_RETRY_HOURS,
    }
    with translation.override(translation.get_language() or settings.LANGUAGE_CODE):
        subject = render_to_string("crm_sync/email/dead_subject.txt", context).strip()
        body = render_to_string("crm_sync/email/dead_body.txt", context)
    send_mail(subject, body, None, recipients)
