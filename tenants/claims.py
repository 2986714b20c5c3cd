"""Claiming an amoCRM account installed from the marketplace, by a single-use code.

The widget, running in an account no network has claimed, asks for a code (its amoCRM token proves
it runs inside that account); a person who can see the widget is someone with access to the account.
The owner of a network types the code into the panel, or the sign-up form carries it, and the
account's sealed tokens move into that network: control of the account is proved, not assumed.

The code is derived, not stored: HMAC(SECRET_KEY, account id, expiry) folded into six characters of
an alphabet without look-alikes, so while a code is valid every manager's widget shows the same
one; only its hash and expiry are kept on the binding, and a new code is minted when the current
one has less than CLAIM_CODE_MIN_LEFT to live.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context, tenant_context

from crm_connectors.base import OAuthTokens
from crm_connectors.registry import crm_app
from franchise_platform.crm_sync.connect import ConnectError, Exchanged, network_bind
from franchise_platform.crm_sync.models import ConnectionStatus, CrmConnection
from franchise_platform.security.audit import audit_record

from .errors import ClaimRefused
from .models import CrmAccountBinding, Network

logger = logging.getLogger(__name__)

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L
CODE_LENGTH = 6
CLAIM_CODE_TTL = timedelta(minutes=30)
CLAIM_CODE_MIN_LEFT = timedelta(minutes=10)
# Wrong codes a network (or an address) may try per hour: 31^6 codes make guessing hopeless.
CLAIM_ATTEMPTS_PER_HOUR = 10


@dataclass(frozen=True)
class ClaimCode:
    code: str  # "7K4-9QX"
    expires_at: datetime


def _derive(account_id: int | str, expires_at: datetime) -> str:
    digest = salted_hmac(
        "tenants.claim-code", f"{account_id}:{int(expires_at.timestamp())}", algorithm="sha256"
    ).digest()
    number = int.from_bytes(digest[:8], "big")
    chars = []
    for _i in range(CODE_LENGTH):
        number, index = divmod(number, len(ALPHABET))
        chars.append(ALPHABET[index])
    raw = "".join(chars)
    return f"{raw[:3]}-{raw[3:]}"


def claim_code_normalise(code: str) -> str:
    """What a person typed, as the code is hashed: upper case, no spaces or dashes."""
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def _hash(code: str) -> str:
    return salted_hmac(
        "tenants.claim-code-hash", claim_code_normalise(code), algorithm="sha256"
    ).hexdigest()


def _crm_title(crm: str) -> dict[str, str]:
    """The CRM's name for a refusal's ``%(crm)s`` (amoCRM's for an unknown slug)."""
    try:
        return {"crm": crm_app(crm).title}
    except LookupError:
        return {"crm": "amoCRM"}


def _refuse_unclaimable(binding: CrmAccountBinding | None) -> None:
    if binding is not None and binding.state == CrmAccountBinding.State.BOUND:
        raise ClaimRefused(
            _("Этот аккаунт %(crm)s уже подключён к сети.") % _crm_title(binding.crm),
            "account_already_bound",
            409,
        )
    if (
        binding is None
        or binding.state != CrmAccountBinding.State.UNBOUND
        or not binding.pending_refresh_token
    ):
        if binding is not None and binding.crm != "amocrm":
            detail = _(
                "Установка приложения ещё не завершилась. Подождите минуту или установите "
                "приложение в %(crm)s заново."
            ) % _crm_title(binding.crm)
        else:
            detail = _(
                "Установка виджета ещё не завершилась. Подождите минуту или установите "
                "интеграцию заново из маркетплейса amoCRM."
            )
        raise ClaimRefused(detail, "install_not_finished", 409)


def _refuse_non_admin(binding: CrmAccountBinding, *, user_id: int, is_admin: bool | None) -> None:
    """The code moves the account, and its admin's OAuth grant, into whichever network types it:
    only an administrator of the account may hand it out. The widget token's `is_admin` says so
    when amoCRM sends it; without it, the user who installed (admins only can) qualifies."""
    if is_admin is True:
        return
    installer = binding.installer_user_id
    if is_admin is None and installer is not None and installer == user_id:
        return
    raise ClaimRefused(
        _("Код может получить только администратор аккаунта %(crm)s.") % _crm_title(binding.crm),
        "not_account_admin",
        403,
    )


def claim_code_issue(
    *, account_id: int | str, user_id: int, is_admin: bool | None, crm: str = "amocrm"
) -> ClaimCode:
    """The current code of an unbound account (a new one when it would soon expire), for an
    administrator of that account (`user_id`, `is_admin` from the widget token). Raises
    ClaimRefused when the account is bound already, its install has not arrived, or the caller
    is not shown to be an administrator."""
    now = timezone.now()
    with schema_context("public"), transaction.atomic():
        binding = (
            CrmAccountBinding.objects.select_for_update()
            .filter(crm=crm, account_id=str(account_id))
            .first()
        )
        _refuse_unclaimable(binding)
        assert binding is not None
        _refuse_non_admin(binding, user_id=user_id, is_admin=is_admin)
        expires_at = binding.claim_code_expires_at
        if (
            not binding.claim_code_hash
            or expires_at is None
            or expires_at - now < CLAIM_CODE_MIN_LEFT
        ):
            expires_at = (now + CLAIM_CODE_TTL).replace(microsecond=0)
            binding.claim_code_expires_at = expires_at
            binding.claim_code_hash = _hash(_derive(binding.account_id, expires_at))
            binding.save(update_fields=["claim_code_hash", "claim_code_expires_at", "updated_at"])
    return ClaimCode(_derive(binding.account_id, expires_at), expires_at)


def claim_binding_find(
    *, code: str, account_id: int | str | None = None
) -> CrmAccountBinding | None:
    """The unbound account a valid, unexpired code names (and, if given, it must be `account_id`)."""
    if len(claim_code_normalise(code)) != CODE_LENGTH:
        return None
    with schema_context("public"):
        bindings = CrmAccountBinding.objects.filter(
            claim_code_hash=_hash(code),
            state=CrmAccountBinding.State.UNBOUND,
            claim_code_expires_at__gt=timezone.now(),
        )
        if account_id is not None:
            bindings = bindings.filter(account_id=str(account_id))
        return bindings.first()


def claim_attempt_allowed(*, scope: str) -> bool:
    """Count one code attempt for `scope` (a network, an address); False past the hourly budget."""
    key = f"claim-attempts:{scope}"
    with schema_context("public"):
        cache.add(key, 0, 3600)
        try:
            return int(cache.incr(key)) <= CLAIM_ATTEMPTS_PER_HOUR
        except ValueError:
            cache.set(key, 1, 3600)
            return True


def _invalid_code() -> ClaimRefused:
    return ClaimRefused(
        _(
            "Код не подошёл или устарел. Возьмите новый: в amoCRM — в виджете сделки, "
            "в Битрикс24 — на странице приложения."
        ),
        "claim_code_invalid",
    )


def account_claim(
    *, network: Network, code: str, actor: str, ip_address: str | None = None
) -> CrmAccountBinding:
    """Bind the account a code names to `network`: its sealed tokens move into the network, the
    code is spent, the lead fields and the webhook are queued (crm_sync.connect.network_bind).
    Raises ClaimRefused (bad, expired or spent code; the network already has another account)."""

    if network.is_suspended:
        raise ClaimRefused(
            _("Работа сети приостановлена: подключить %(crm)s сейчас нельзя.")
            % _crm_title(network.crm),
            "network_suspended",
            403,
        )
    if len(claim_code_normalise(code)) != CODE_LENGTH:
        raise _invalid_code()
    code_hash = _hash(code)
    with schema_context("public"):
        binding = CrmAccountBinding.objects.filter(
            claim_code_hash=code_hash,
            state=CrmAccountBinding.State.UNBOUND,
            claim_code_expires_at__gt=timezone.now(),
        ).first()
        if binding is None or not binding.pending_refresh_token:
            raise _invalid_code()
        try:
            # An install stored before the strict referer parse may name any host; its tokens
            # (and on refresh our client secret) would go there. Such an install starts over.
            crm_app(binding.crm).oauth.stored_account_host(binding.base_url)
        except ValueError:
            detail = (
                _("Установка повреждена: установите интеграцию заново из маркетплейса amoCRM.")
                if binding.crm == "amocrm"
                else _("Установка повреждена: установите приложение в %(crm)s заново.")
                % _crm_title(binding.crm)
            )
            raise ClaimRefused(detail, "bad_account_host", 409) from None
        with tenant_context(network):
            other = (
                CrmConnection.objects.filter(status=ConnectionStatus.CONNECTED)
                .exclude(account_id=binding.account_id)
                .exists()
            )
        if other:
            raise ClaimRefused(
                _("Сеть уже подключена к другому аккаунту %(crm)s.") % _crm_title(network.crm),
                "network_has_crm",
                409,
            )
        # Spend the code first (compare and set): of two people typing it at once, one binds.
        spent = CrmAccountBinding.objects.filter(
            pk=binding.pk, claim_code_hash=code_hash, state=CrmAccountBinding.State.UNBOUND
        ).update(claim_code_hash="", claim_code_expires_at=None, updated_at=timezone.now())
        if spent != 1:
            raise _invalid_code()
        exchanged = Exchanged(
            crm=binding.crm,
            account_id=binding.account_id,
            subdomain=binding.subdomain,
            base_url=binding.base_url,
            tokens=OAuthTokens(
                access_token=binding.pending_access_token or "",
                refresh_token=binding.pending_refresh_token,
                # An unknown expiry reads as expired: the sender refreshes before the first call.
                expires_at=binding.pending_expires_at or timezone.now(),
            ),
        )
    # Not inside a transaction of ours: network_bind commits in the network's schema, so the tasks
    # it queues on commit carry that schema.
    try:
        network_bind(network=network, exchanged=exchanged)
    except ConnectError as exc:
        raise ClaimRefused(exc.detail, exc.code, 409) from exc
    with tenant_context(network):
        audit_record(
            actor=actor,
            action="crm.claim",
            obj=binding,
            changes={"account_id": (None, binding.account_id)},
            ip_address=ip_address,
        )
    logger.info("amoCRM account %s claimed by network %s", binding.account_id, network.slug)
    with schema_context("public"):
        binding.refresh_from_db()
    return binding
