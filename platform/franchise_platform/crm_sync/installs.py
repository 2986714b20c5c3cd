"""Marketplace installs: the Redirect URI called without `state` (amoCRM's `from_widget` call).

Anyone can call that address, and each accepted call costs a row, a worker task and a request to
amoCRM carrying our client secret. So a call is accepted only when it could be genuine (a valid
account host, a code of amoCRM's shape), within a budget per client address and per account host
and under a ceiling of waiting rows; a waiting row lives only as long as its code can be exchanged
(20 minutes), and a periodic sweep re-queues a lost exchange and removes what has expired, along
with installs nobody claimed for AMOCRM_UNCLAIMED_INSTALL_DAYS.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections.abc import Mapping
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from crm_connectors.app import InstalledAccount, InstallRefusedByApp, InstallRequestInfo
from crm_connectors.errors import CrmAccessRevoked, CrmAuthError, CrmError, CrmPaymentRequired
from crm_connectors.registry import crm_app
from franchise_platform.request_context import client_ip_bucket
from tenants.models import CrmAccountBinding, PendingInstall

from .connect import ConnectError, Exchanged, code_exchange, network_bind, referer_host
from .connectors import app_setting
from .models import ConnectionStatus, CrmConnection
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


# -- installs the CRM posts to us (Bitrix24's ONAPPINSTALL / installer frame, spec §1.2) --------


def _install_refused_by_crm(exc: CrmError, title: str) -> InstallRefused:
    if isinstance(exc, CrmAuthError | CrmAccessRevoked | CrmPaymentRequired):
        return InstallRefused(
            f"{title} не подтвердил установку: установите приложение заново.",
            "install_not_confirmed",
            403,
        )
    return InstallRefused(
        f"{title} сейчас недоступен, установка не подтверждена. Повторите установку позже.",
        "crm_unavailable",
        409,
    )


def crm_install_receive(
    *, crm: str, query: Mapping[str, str], body: bytes, client_address: str
) -> CrmAccountBinding:
    """An install the CRM posted: parsed (nothing trusted), confirmed with the CRM (its token
    server names the account), then stored in the public schema with its tokens and
    `application_token` sealed. A new account waits unbound for a claim code, as a marketplace
    install of amoCRM does; an account already bound to a network gets the new tokens there (a
    reinstall). Raises InstallRefused (nothing written) for anything else."""
    app = crm_app(crm)
    if app.install is None:
        raise InstallRefused("Эта CRM не присылает установки.", "unknown_crm", 404)
    try:
        request = app.install.parse(query, body)
    except InstallRefusedByApp as exc:
        raise InstallRefused("Запрос установки не распознан.", exc.code, 400) from None
    reopened = _reopened_install(crm=crm, request=request)
    if reopened is not None:
        return reopened
    client_id, client_secret = app_setting(app, "CLIENT_ID"), app_setting(app, "CLIENT_SECRET")
    if not client_id or not client_secret:
        raise InstallRefused(
            f"Установка из {app.title} на платформе не настроена.", "install_unavailable", 409
        )
    prefix = f"{crm}-install"
    address = client_ip_bucket(client_address)
    if not _within_budget(
        f"{prefix}:addr:{address}", app_setting(app, "INSTALLS_PER_ADDRESS_PER_HOUR")
    ):
        raise InstallRefused("Слишком много установок с этого адреса.", "install_rate_limited", 429)
    # Per account *and* address: the account id is the POST's claim, so forged posts from
    # elsewhere must not use up a genuine install's budget.
    if not _within_budget(
        f"{prefix}:account:{request.account_id}:{address}",
        app_setting(app, "INSTALLS_PER_ACCOUNT_PER_HOUR"),
    ):
        raise InstallRefused(
            "Слишком много установок для этого аккаунта.", "install_rate_limited", 429
        )
    try:
        installed = app.install.complete(
            app.http_client(),
            request,
            client_id=client_id,
            client_secret=client_secret,
            api_base_url=str(app_setting(app, "API_BASE_URL")).rstrip("/"),
        )
    except InstallRefusedByApp as exc:
        if exc.code == "not_admin":
            raise InstallRefused(
                f"Установить приложение может только администратор {app.title}.", exc.code, 403
            ) from None
        raise InstallRefused("Запрос установки не распознан.", exc.code, 400) from None
    except CrmError as exc:
        logger.warning("%s install of %s refused: %s", crm, request.account_id, exc.code)
        raise _install_refused_by_crm(exc, app.title) from None
    return _installed_store(crm=crm, installed=installed)


def _reopened_install(*, crm: str, request: InstallRequestInfo) -> CrmAccountBinding | None:
    """The installer frame of a portal already installed and bound, posting the install's stored
    `application_token`: an administrator reopening the app, not a reinstall. Its binding is the
    page's answer; no refresh token is spent and no field or event is bound again. None (the
    install runs) for a first install, a callback, another token, or an install whose
    connection is gone or revoked."""
    if not request.frame or not request.application_token:
        return None
    with schema_context("public"):
        binding = (
            CrmAccountBinding.objects.filter(
                crm=crm,
                account_id=request.account_id,
                state=CrmAccountBinding.State.BOUND,
                network__isnull=False,
            )
            .select_related("network")
            .first()
        )
    if binding is None or binding.network is None or not binding.application_token:
        return None
    if not hmac.compare_digest(
        str(binding.application_token).encode(), request.application_token.encode()
    ):
        return None
    with tenant_context(binding.network):
        live = (
            CrmConnection.objects.filter(crm=crm, account_id=request.account_id)
            .exclude(status=ConnectionStatus.REVOKED)
            .exists()
        )
    return binding if live else None


def _installed_store(*, crm: str, installed: InstalledAccount) -> CrmAccountBinding:
    with schema_context("public"), transaction.atomic():
        binding = (
            CrmAccountBinding.objects.select_for_update(of=("self",))
            .filter(crm=crm, account_id=installed.account_id)
            .select_related("network")
            .first()
        ) or CrmAccountBinding(crm=crm, account_id=installed.account_id)
        binding.subdomain = installed.subdomain
        binding.base_url = installed.base_url
        binding.application_token = installed.application_token
        binding.installer_user_id = installed.user_id
        if not binding.webhook_secret:
            binding.webhook_secret = secrets.token_urlsafe(24)
        bound = binding.state == CrmAccountBinding.State.BOUND and binding.network is not None
        if bound:
            binding.pending_access_token = None
            binding.pending_refresh_token = None
            binding.pending_expires_at = None
        else:
            binding.state = CrmAccountBinding.State.UNBOUND
            binding.pending_access_token = installed.tokens.access_token
            binding.pending_refresh_token = installed.tokens.refresh_token
            binding.pending_expires_at = installed.tokens.expires_at
        binding.save()
    if bound:
        assert binding.network is not None
        # A reinstall (§2.4: overwrite everything after verification): the network's connection
        # takes the new tokens, and its fields and event bindings are made again.
        network_bind(
            network=binding.network,
            exchanged=Exchanged(
                crm=crm,
                account_id=installed.account_id,
                subdomain=installed.subdomain,
                base_url=installed.base_url,
                tokens=installed.tokens,
                user_id=installed.user_id,
            ),
        )
    logger.info("%s account %s installed (%s)", crm, installed.account_id, binding.state)
    return binding
