"""Connecting a network to amoCRM (OAuth) and disconnecting; marketplace installs are installs.py.

The connect URL carries a signed, single-use `state` (oauth_state.py) naming the network and the
person who asked, valid for 30 minutes. amoCRM sends the browser to the Redirect URI on the platform
host, which checks what it can and sends the browser on to the network's panel; there the same
person, signed in (and, for a panel-issued state, in the same browser), finishes: the code is
exchanged, the tokens stored sealed in the network's schema, the account bound to the network
(public schema), then the lead fields created and the webhook subscribed. A network holds one
amoCRM account; replacing it is its owner's explicit, audited choice.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from crm_connectors.base import OAuthTokens
from crm_connectors.errors import CrmError
from crm_connectors.registry import crm_app
from franchise_platform.db import schema_to_public
from franchise_platform.security.audit import audit_record
from tenants.models import CrmAccountBinding, Network
from tenants.services import network_base_url

from .connectors import app_setting, redirect_uri
from .errors import ConnectError
from .models import ConnectionStatus, CrmConnection, OutboxMessage, OutboxStatus
from .oauth_state import (
    STATE_MAX_AGE,
    STATE_SALT,
    OAuthState,
    browser_nonce_spend,
    state_issue,
    state_read,
    state_spend,
)
from .outbox import outbox_fields_sync_enqueue
from .tasks import crm_events_catch_up, crm_webhook_subscribe

if TYPE_CHECKING:
    from franchise_platform.accounts.models import User

__all__ = [
    "STATE_MAX_AGE",
    "STATE_SALT",
    "ConnectError",
    "Exchanged",
    "connect_url",
    "network_bind",
    "oauth_finish",
]

logger = logging.getLogger(__name__)

FINISH_PATH = "/panel/integrations/amocrm/finish/"


def _network_open(network: Network | None) -> Network:
    if network is None:
        raise ConnectError("Сеть не найдена.", "unknown_network")
    if network.is_suspended:
        raise ConnectError(
            "Работа сети приостановлена: подключить amoCRM сейчас нельзя.", "network_suspended"
        )
    return network


def connect_url(
    *,
    network: Network,
    user: User,
    browser_nonce: str | None = None,
    replace: bool = False,
    crm: str = "amocrm",
) -> str:
    """The consent URL for `user` of `network`. `browser_nonce` (oauth_state.browser_nonce_new)
    binds it to the browser too; `replace` (owners only) lets it replace the bound account."""
    _network_open(network)
    if not user.can_edit:
        raise ConnectError("Подключить amoCRM может владелец или администратор сети.", "forbidden")
    if replace and not user.is_owner:
        raise ConnectError("Заменить аккаунт amoCRM может только владелец сети.", "forbidden")
    state = state_issue(
        network_slug=network.slug, user_uid=str(user.uid), nonce=browser_nonce, replace=replace
    )
    app = crm_app(crm)
    try:
        return app.oauth.authorize_url(app_setting(app, "CLIENT_ID"), state)
    except ValueError as exc:
        # Bitrix24's consent page is the portal's own: its portals are bound by install + claim.
        raise ConnectError(
            f"{app.title} подключается установкой приложения из маркетплейса и кодом в панели.",
            "connect_not_supported",
        ) from exc


def _state_network(parsed: OAuthState) -> Network:
    with schema_context("public"):
        network = Network.objects.customers().filter(slug=parsed.network_slug).first()
    return _network_open(network)


@dataclass(frozen=True)
class Exchanged:
    account_id: str  # the CRM's id as a string (amoCRM's integer in decimal, a `member_id`)
    subdomain: str
    base_url: str
    tokens: OAuthTokens
    user_id: int | None = None  # the CRM user who granted access
    crm: str = "amocrm"

    def __post_init__(self) -> None:
        object.__setattr__(self, "account_id", str(self.account_id))


def referer_host(referer: str, *, crm: str = "amocrm") -> str:
    """The validated account host of an OAuth `referer`; raises ConnectError for anything else."""
    try:
        return crm_app(crm).oauth.account_host(referer)
    except ValueError as exc:
        raise ConnectError("Неизвестный адрес аккаунта amoCRM.", "bad_referer") from exc


def code_exchange(*, code: str, referer: str, crm: str = "amocrm") -> Exchanged:
    # The host validated here is the one stored and later called: never a second parse of the
    # raw string (a second parse could disagree and send our secret elsewhere).
    app = crm_app(crm)
    host = referer_host(referer, crm=crm)
    stored_base = app.oauth.account_origin(host)
    base_url = str(app_setting(app, "API_BASE_URL")).rstrip("/") or stored_base
    http = app.http_client()
    try:
        tokens = app.oauth.exchange_code(
            http,
            base_url,
            app_setting(app, "CLIENT_ID"),
            app_setting(app, "CLIENT_SECRET"),
            code,
            redirect_uri(crm),
        )
        account = app.oauth.fetch_account(http, base_url, tokens)
    except CrmError as exc:
        raise ConnectError(
            f"{app.title} не принял код авторизации. Попробуйте подключить ещё раз.", exc.code
        ) from exc
    try:
        account_id = app.account_key(account.account_id)
    except ValueError as exc:
        raise ConnectError(
            f"{app.title} не принял код авторизации. Попробуйте подключить ещё раз.",
            "bad_response",
        ) from exc
    return Exchanged(
        account_id, account.subdomain, stored_base, tokens, account.current_user_id, crm=crm
    )


def network_bind(
    *,
    network: Network,
    exchanged: Exchanged,
    replace: bool = False,
    actor: str = "",
    ip_address: str | None = None,
) -> CrmConnection:
    """Bind the account to the network and store its tokens there; queue the fields and webhook.

    A network holds one amoCRM account: another bound account (or connected one) is refused unless
    `replace`, which revokes it, and that is recorded in the audit log. Raises ConnectError."""
    title = crm_app(exchanged.crm).title
    with tenant_context(network):
        others_connected = list(
            CrmConnection.objects.filter(status=ConnectionStatus.CONNECTED)
            .exclude(crm=exchanged.crm, account_id=exchanged.account_id)
            .values_list("account_id", flat=True)
        )
    with schema_context("public"), transaction.atomic():
        # One bind per network at a time: two accounts finishing at once cannot both win.
        locked = Network.objects.select_for_update().filter(pk=network.pk).first()
        _network_open(locked)
        other = (
            CrmAccountBinding.objects.filter(
                crm=exchanged.crm,
                account_id=exchanged.account_id,
                state=CrmAccountBinding.State.BOUND,
            )
            .exclude(network=network)
            .first()
        )
        if other is not None:
            raise ConnectError(
                f"Этот аккаунт {title} уже подключён к другой сети.", "account_taken"
            )
        current = CrmAccountBinding.objects.filter(
            network=network, state=CrmAccountBinding.State.BOUND
        ).exclude(crm=exchanged.crm, account_id=exchanged.account_id)
        replaced = sorted({*current.values_list("account_id", flat=True), *others_connected})
        if replaced and not replace:
            raise ConnectError(
                "Сеть уже подключена к другому аккаунту CRM. Заменить его может владелец сети: "
                "кнопка «Заменить аккаунт» на странице интеграций.",
                "network_has_crm",
            )
        current.update(
            state=CrmAccountBinding.State.REVOKED,
            pending_access_token=None,
            pending_refresh_token=None,
            pending_expires_at=None,
            updated_at=timezone.now(),
        )
        binding, _ = CrmAccountBinding.objects.update_or_create(
            crm=exchanged.crm,
            account_id=exchanged.account_id,
            defaults={
                "network": network,
                "state": CrmAccountBinding.State.BOUND,
                "subdomain": exchanged.subdomain,
                "base_url": exchanged.base_url,
                "pending_access_token": None,
                "pending_refresh_token": None,
                "pending_expires_at": None,
            },
        )
        if not binding.webhook_secret:
            binding.webhook_secret = secrets.token_urlsafe(24)
            binding.save(update_fields=["webhook_secret"])
        # The bound account says which CRM the network works in (a claim code or an install of
        # another CRM than the one chosen at sign-up is proof enough).
        Network.objects.filter(pk=network.pk).exclude(crm=exchanged.crm).update(crm=exchanged.crm)
    with tenant_context(network), transaction.atomic():
        if replaced:
            CrmConnection.objects.filter(account_id__in=replaced).update(
                status=ConnectionStatus.REVOKED,
                access_token=None,
                refresh_token=None,
                last_error=f"Заменён аккаунтом {title} {exchanged.account_id}",
            )
        crm, _ = CrmConnection.objects.update_or_create(
            crm=exchanged.crm,
            account_id=exchanged.account_id,
            defaults={
                "subdomain": exchanged.subdomain,
                "base_url": exchanged.base_url,
                "access_token": exchanged.tokens.access_token,
                "refresh_token": exchanged.tokens.refresh_token,
                "expires_at": exchanged.tokens.expires_at,
                "status": ConnectionStatus.CONNECTED,
                "last_error": "",
            },
        )
        if actor:
            audit_record(
                actor=actor,
                action="crm.replace" if replaced else "crm.connect",
                obj=crm,
                changes={
                    "account_id": (", ".join(map(str, replaced)) or None, exchanged.account_id)
                },
                ip_address=ip_address,
            )
        # Messages paused while the connection was revoked go out now.
        OutboxMessage.objects.filter(status=OutboxStatus.PENDING).update(
            next_attempt_at=timezone.now()
        )
        outbox_fields_sync_enqueue()

        transaction.on_commit(lambda: crm_webhook_subscribe.delay())
        # What the CRM kept for us while the connection was away (Bitrix24's offline queue).
        transaction.on_commit(lambda: crm_events_catch_up.delay())
    schema_to_public()
    return crm


def oauth_callback_next(*, code: str, state: str, referer: str, crm: str = "amocrm") -> str:
    """The Redirect URI with a `state`, on the platform host: check what can be checked without
    the person (signature, expiry, network, referer) and say where the browser finishes."""
    if crm != "amocrm":
        # The panel finishes amoCRM's connect only; other CRMs are bound by install + claim.
        raise ConnectError(
            f"Подключение {crm_app(crm).title} по ссылке не поддерживается: установите "
            "приложение из маркетплейса и введите код в панели сети.",
            "connect_not_supported",
        )
    parsed = state_read(state)
    network = _state_network(parsed)
    host = referer_host(referer)
    query = urlencode({"code": code, "state": state, "referer": host})
    return f"{network_base_url(network)}{FINISH_PATH}?{query}"


def oauth_finish(
    *,
    network: Network,
    user: User,
    session: Any,
    code: str,
    state: str,
    referer: str,
    ip_address: str | None = None,
) -> CrmConnection:
    """The connect, finished in the network's panel by the person who started it. Raises
    ConnectError (nothing is exchanged or bound then)."""
    parsed = state_read(state)
    if parsed.network_slug != network.slug:
        raise ConnectError("Ссылка подключения выдана другой сети.", "state_other_network")
    if not hmac.compare_digest(parsed.user_uid, str(user.uid)):
        raise ConnectError(
            "Подключение начал другой человек. Войдите под своей учётной записью и начните "
            "подключение заново на странице интеграций.",
            "state_other_person",
        )
    if parsed.browser_hash and not browser_nonce_spend(session, parsed.browser_hash):
        raise ConnectError(
            "Подключение начато в другом браузере. Начните его заново на странице интеграций.",
            "state_other_browser",
        )
    _network_open(network)
    if not user.can_edit or (parsed.replace and not user.is_owner):
        raise ConnectError("Ваша роль не позволяет подключать amoCRM.", "forbidden")
    state_spend(parsed)
    exchanged = code_exchange(code=code, referer=referer)
    return network_bind(
        network=network,
        exchanged=exchanged,
        replace=parsed.replace,
        actor=user.email,
        ip_address=ip_address,
    )


def disconnect(*, client_uuid: str, account_id: str, signature: str, crm: str = "amocrm") -> bool:
    """The CRM's "integration disabled" hook, verified as the CRM says: the binding is revoked."""
    app = crm_app(crm)
    try:
        # Compared as the canonical string: anything else is no binding of ours.
        key = app.account_key(account_id)
    except ValueError:
        return False
    if not app.oauth.verify_uninstall(
        client_uuid,
        account_id,
        signature,
        app_setting(app, "CLIENT_SECRET"),
        app_setting(app, "CLIENT_ID"),
    ):
        return False
    with schema_context("public"):
        binding = (
            CrmAccountBinding.objects.filter(crm=crm, account_id=key)
            .select_related("network")
            .first()
        )
        if binding is None:
            return True
        binding.state = CrmAccountBinding.State.REVOKED
        binding.client_uuid = client_uuid[:64]
        binding.save(update_fields=["state", "client_uuid", "updated_at"])
        network = binding.network
    if network is not None:
        connection_revoke(
            network=network,
            crm=crm,
            account_id=key,
            reason=f"Интеграция отключена в {app.title}",
        )
    schema_to_public()
    return True


def connection_revoke(*, network: Network, crm: str, account_id: str, reason: str) -> int:
    """Mark the network's connection to this account revoked (its tokens are no longer used)."""
    with tenant_context(network):
        return CrmConnection.objects.filter(crm=crm, account_id=account_id).update(
            status=ConnectionStatus.REVOKED, last_error=reason
        )
