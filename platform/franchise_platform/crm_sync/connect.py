"""Connecting a network to amoCRM (OAuth), marketplace installs, and disconnecting.

The connect URL carries a signed, single-use `state` naming the network, valid for 30 minutes. The
callback runs on the platform host: it exchanges the code, stores the tokens sealed in the
network's schema, binds the amoCRM account to the network (public schema), then creates the lead
fields and subscribes the webhook.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from crm_connectors.amocrm import oauth
from crm_connectors.amocrm.client import shared_http_client
from crm_connectors.base import OAuthTokens
from crm_connectors.errors import CrmError
from franchise_platform.db import schema_to_public
from tenants.models import CrmAccountBinding, Network

from .connectors import redirect_uri
from .models import ConnectionStatus, CrmConnection, OutboxMessage, OutboxStatus
from .outbox import outbox_fields_sync_enqueue

logger = logging.getLogger(__name__)

STATE_SALT = "amocrm-oauth-state"
STATE_MAX_AGE = 30 * 60


class ConnectError(Exception):
    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


def connect_url(*, network: Network) -> str:
    state = signing.dumps({"n": network.slug, "x": secrets.token_urlsafe(12)}, salt=STATE_SALT)
    return oauth.build_authorize_url(settings.AMOCRM_CLIENT_ID, state, mode="popup")


def state_network(state: str) -> Network:
    """The network a state names; raises ConnectError if forged, expired or already used."""
    try:
        data = signing.loads(state, salt=STATE_SALT, max_age=STATE_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise ConnectError(
            "Ссылка подключения устарела: начните подключение заново.", "state_expired"
        ) from exc
    except signing.BadSignature as exc:
        raise ConnectError("Неверный параметр state.", "bad_state") from exc
    with schema_context("public"):
        if not cache.add(f"amocrm-state:{data['x']}", 1, STATE_MAX_AGE + 60):
            raise ConnectError("Эта ссылка подключения уже использована.", "state_used")
        network = Network.objects.customers().filter(slug=data["n"]).first()
    if network is None:
        raise ConnectError("Сеть не найдена.", "unknown_network")
    return network


@dataclass(frozen=True)
class Exchanged:
    account_id: int
    subdomain: str
    base_url: str
    tokens: OAuthTokens


def referer_host(referer: str) -> str:
    """The validated account host of an OAuth `referer`; raises ConnectError for anything else."""
    try:
        return oauth.account_host(referer)
    except ValueError as exc:
        raise ConnectError("Неизвестный адрес аккаунта amoCRM.", "bad_referer") from exc


def code_exchange(*, code: str, referer: str) -> Exchanged:
    # The host validated here is the one stored and later called: never a second parse of the
    # raw string (a second parse could disagree and send our secret elsewhere).
    host = referer_host(referer)
    stored_base = oauth.account_origin(host)
    base_url = settings.AMOCRM_API_BASE_URL.rstrip("/") or stored_base
    http = shared_http_client()
    try:
        tokens = oauth.exchange_code(
            http,
            base_url,
            settings.AMOCRM_CLIENT_ID,
            settings.AMOCRM_CLIENT_SECRET,
            code,
            redirect_uri(),
        )
        account = oauth.fetch_account(http, base_url, tokens)
    except CrmError as exc:
        raise ConnectError(
            "amoCRM не принял код авторизации. Попробуйте подключить ещё раз.", exc.code
        ) from exc
    return Exchanged(account.account_id, account.subdomain, stored_base, tokens)


def network_bind(*, network: Network, exchanged: Exchanged) -> CrmConnection:
    """Bind the account to the network and store its tokens there; queue the fields and webhook."""
    with schema_context("public"), transaction.atomic():
        other = (
            CrmAccountBinding.objects.filter(
                account_id=exchanged.account_id, state=CrmAccountBinding.State.BOUND
            )
            .exclude(network=network)
            .first()
        )
        if other is not None:
            raise ConnectError("Этот аккаунт amoCRM уже подключён к другой сети.", "account_taken")
        binding, _ = CrmAccountBinding.objects.update_or_create(
            crm="amocrm",
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
    with tenant_context(network), transaction.atomic():
        crm, _ = CrmConnection.objects.update_or_create(
            account_id=exchanged.account_id,
            defaults={
                "crm": "amocrm",
                "subdomain": exchanged.subdomain,
                "base_url": exchanged.base_url,
                "access_token": exchanged.tokens.access_token,
                "refresh_token": exchanged.tokens.refresh_token,
                "expires_at": exchanged.tokens.expires_at,
                "status": ConnectionStatus.CONNECTED,
                "last_error": "",
            },
        )
        # Messages paused while the connection was revoked go out now.
        OutboxMessage.objects.filter(status=OutboxStatus.PENDING).update(
            next_attempt_at=timezone.now()
        )
        outbox_fields_sync_enqueue()
        from .tasks import crm_webhook_subscribe

        transaction.on_commit(lambda: crm_webhook_subscribe.delay())
    schema_to_public()
    return crm


def oauth_complete(*, code: str, state: str, referer: str) -> Network:
    """The Redirect URI with a `state`: everything the owner asked for, now. Raises ConnectError."""
    network = state_network(state)
    network_bind(network=network, exchanged=code_exchange(code=code, referer=referer))
    return network


def disconnect(*, client_uuid: str, account_id: str, signature: str) -> bool:
    """amoCRM's "integration disabled" hook, verified by its HMAC: the binding is revoked."""
    if not account_id.isdigit() or not oauth.verify_disconnect_signature(
        client_uuid,
        account_id,
        signature,
        settings.AMOCRM_CLIENT_SECRET,
        client_id=settings.AMOCRM_CLIENT_ID,
    ):
        return False
    with schema_context("public"):
        binding = (
            CrmAccountBinding.objects.filter(account_id=int(account_id))
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
        with tenant_context(network):
            CrmConnection.objects.filter(account_id=int(account_id)).update(
                status=ConnectionStatus.REVOKED, last_error="Интеграция отключена в amoCRM"
            )
    schema_to_public()
    return True
