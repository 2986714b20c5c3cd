"""Marketplace installs: the Redirect URI called without `state` (amoCRM's `from_widget` call).

Anyone can call that address, and each accepted call costs a row, a worker task and a request to
amoCRM carrying our client secret. So a call is accepted only when it could be genuine (a valid
account host, a code of amoCRM's shape), within a budget per client address and per account host
and under a ceiling of waiting rows; a waiting row lives only as long as its code can be exchanged
(20 minutes), and a periodic sweep re-queues a lost exchange and removes what has expired, along
with installs nobody claimed for AMOCRM_UNCLAIMED_INSTALL_DAYS.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from franchise_platform.request_context import client_ip_bucket
from tenants.models import CrmAccountBinding, PendingInstall

from .connect import ConnectError, code_exchange, referer_host
from .tasks import marketplace_install_complete

logger = logging.getLogger(__name__)

# amoCRM's authorization codes are long opaque tokens ("def50200…"); anything else is not one.
CODE_RE = re.compile(r"[A-Za-z0-9._~+/=-]{16,4096}")
# §1.1: a code can be exchanged for 20 minutes.
PENDING_INSTALL_TTL = timedelta(minutes=20)
# A task younger than this may still be on its way; older un-exchanged rows are re-queued.
REQUEUE_AFTER = timedelta(minutes=1)
MAX_ATTEMPTS = 3
WINDOW_SECONDS = 3600
# Exchange failures that a later attempt cannot fix: the row goes at once.
PERMANENT_CODES = frozenset({"invalid_grant", "bad_referer", "bad_response"})


class InstallRefused(Exception):
    def __init__(self, detail: str, code: str, status: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.status = status


def _within_budget(key: str, limit: int) -> bool:
    if limit <= 0:
        return True
    with schema_context("public"):
        cache.add(key, 0, WINDOW_SECONDS + 60)
        try:
            count = int(cache.incr(key))
        except ValueError:  # expired between add and incr
            cache.set(key, 1, WINDOW_SECONDS + 60)
            count = 1
    return count <= limit


def marketplace_install_receive(*, code: str, referer: str, client_address: str) -> PendingInstall:
    """Remember a `from_widget` call and queue its exchange; raises InstallRefused (no row, no
    task) for a call that cannot be genuine or is over a limit."""
    if not isinstance(code, str) or not CODE_RE.fullmatch(code):
        raise InstallRefused("Неверный код авторизации.", "bad_code", 400)
    try:
        host = referer_host(referer)
    except ConnectError as exc:
        raise InstallRefused(exc.detail, exc.code, 400) from exc
    # An IPv6 client is counted per /64 (one subscriber holds a whole /64).
    address = client_ip_bucket(client_address)
    if not _within_budget(
        f"amocrm-install:addr:{address}", settings.AMOCRM_INSTALLS_PER_ADDRESS_PER_HOUR
    ):
        raise InstallRefused("Слишком много установок с этого адреса.", "install_rate_limited", 429)
    if not _within_budget(
        f"amocrm-install:host:{host}", settings.AMOCRM_INSTALLS_PER_ACCOUNT_PER_HOUR
    ):
        raise InstallRefused(
            "Слишком много установок для этого аккаунта.", "install_rate_limited", 429
        )
    with schema_context("public"):
        if PendingInstall.objects.count() >= settings.AMOCRM_PENDING_INSTALLS_MAX:
            raise InstallRefused(
                "Слишком много установок ждут обработки.", "install_rate_limited", 429
            )
        pending = PendingInstall.objects.create(code=code, referer=host)
        transaction.on_commit(lambda: marketplace_install_complete.delay(str(pending.pk)))
    return pending


def pending_install_exchange(*, pending_id: str) -> CrmAccountBinding | None:
    """Exchange a remembered code; the account then waits unbound with sealed tokens. An expired
    row, or one whose exchange failed for good, is removed."""
    # The row stays locked through the exchange: a re-queued task for the same row skips it
    # instead of presenting the same single-use code a second time.
    with schema_context("public"), transaction.atomic():
        pending = (
            PendingInstall.objects.select_for_update(skip_locked=True).filter(pk=pending_id).first()
        )
        if pending is None:
            return None
        if pending.created_at < timezone.now() - PENDING_INSTALL_TTL:
            pending.delete()
            return None
        try:
            exchanged = code_exchange(code=pending.code, referer=pending.referer)
        except ConnectError as exc:
            logger.warning("marketplace install failed: %s", exc.code)
            if exc.code in PERMANENT_CODES or pending.attempts + 1 >= MAX_ATTEMPTS:
                pending.delete()
            else:
                PendingInstall.objects.filter(pk=pending.pk).update(
                    attempts=pending.attempts + 1, last_error=exc.code[:300]
                )
            return None
        binding, _ = CrmAccountBinding.objects.get_or_create(
            crm="amocrm", account_id=exchanged.account_id
        )
        if binding.state != CrmAccountBinding.State.BOUND:
            binding.state = CrmAccountBinding.State.UNBOUND
        binding.subdomain = exchanged.subdomain
        binding.base_url = exchanged.base_url
        binding.pending_access_token = exchanged.tokens.access_token
        binding.pending_refresh_token = exchanged.tokens.refresh_token
        binding.pending_expires_at = exchanged.tokens.expires_at
        binding.installer_user_id = exchanged.user_id
        binding.save()
        pending.delete()
        return binding


def pending_installs_sweep() -> dict[str, int]:
    """Remove expired waiting installs and long-unclaimed accounts; re-queue lost exchanges."""
    now = timezone.now()
    with schema_context("public"):
        expired, _ = PendingInstall.objects.filter(
            created_at__lt=now - PENDING_INSTALL_TTL
        ).delete()
        unclaimed, _ = CrmAccountBinding.objects.filter(
            state=CrmAccountBinding.State.UNBOUND,
            network__isnull=True,
            updated_at__lt=now - timedelta(days=settings.AMOCRM_UNCLAIMED_INSTALL_DAYS),
        ).delete()
        lost = list(
            PendingInstall.objects.filter(created_at__lt=now - REQUEUE_AFTER).values_list(
                "pk", flat=True
            )
        )
    for pk in lost:
        marketplace_install_complete.delay(str(pk))
    return {"expired": expired, "unclaimed": unclaimed, "requeued": len(lost)}
