"""A partner's shop connected by the provider's OAuth, and the shop check by API, for any provider
that declares them (``BillingProvider.connects_by_oauth``, ``checks_shop_by_api``).

Connecting: the partner page's button asks for the provider's consent URL with a signed `state`
naming the network, the partner, the provider, the person and (by a nonce kept in their session)
their browser; valid 30 minutes, single use. The provider sends the browser to one callback on the
platform host, which checks the signature and routes the browser to the network's panel, where the
same person finishes: the code is exchanged for the shop's token (sealed in the account's
``provider_secrets``), the shop read (its id, test flag, receipts), the notifications pointed at
the partner's generic callback address by API, and the partner page says how it went.

Nothing here names a vendor: the provider is found in the registry by its slug.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from billing_providers import registry
from billing_providers.base import BillingProvider, ShopCheck
from billing_providers.base import ProviderAccount as ProviderAccountData
from billing_providers.errors import ProviderConfigError, ProviderError
from franchise_platform.security.audit import audit_record
from tenants.models import Network
from tenants.services import network_base_url

from .models import Partner, ProviderAccount

logger = logging.getLogger(__name__)

STATE_SALT = "provider-oauth-state"
STATE_MAX_AGE = 30 * 60
SESSION_KEY = "provider_oauth_nonces"
SESSION_NONCES_KEPT = 5
CALLBACK_PATH = "/integrations/providers/{provider}/oauth/callback/"
FINISH_PATH = "/panel/partners/{partner_id}/provider-connect/finish/"


class ConnectRefused(Exception):
    """A connect or check that cannot go on; ``detail`` is Russian, for the person."""

    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


@dataclass(frozen=True)
class ConnectState:
    network_slug: str
    partner_id: str
    provider: str
    user_uid: str
    browser_hash: str
    key: str


@dataclass(frozen=True)
class Connected:
    """A finished connect: the shop as the provider reported it, the events now delivered to
    us, and why they are not when registering them failed ("" otherwise)."""

    shop: ShopCheck
    events: tuple[str, ...]
    notifications_problem: str = ""


def provider_for(slug: str) -> BillingProvider:
    """The adapter with the platform's options (no stored references: none are needed here)."""
    options: dict[str, Any] = dict(getattr(settings, "BILLING_PROVIDER_OPTIONS", {}).get(slug, {}))
    return registry.get_provider(slug, **{k: v for k, v in options.items() if v not in (None, "")})


def account_data(account: ProviderAccount) -> ProviderAccountData:
    """The shop as its provider sees it (the declared secrets, the login, the flags)."""
    stored = account.provider_secrets if isinstance(account.provider_secrets, dict) else {}
    return ProviderAccountData(
        login=account.merchant_login,
        secrets={str(k): str(v) for k, v in stored.items() if v not in (None, "")},
        hash_algorithm=account.hash_algorithm,
        test_mode=account.test_mode,
        fiscalization=account.fiscalization,
    )


def oauth_providers() -> list[tuple[str, str]]:
    """``(slug, label)`` of the registered providers that connect by OAuth."""
    return [
        (slug, label)
        for slug, label in registry.provider_choices()
        if registry.get_provider_class(slug).connects_by_oauth
    ]


def callback_url(provider: str) -> str:
    """The one address (platform host) to register as the OAuth app's callback."""
    return settings.PLATFORM_BASE_URL.rstrip("/") + CALLBACK_PATH.format(provider=provider)


def notification_url(*, network: Network, partner: Partner, provider: str) -> str:
    return f"{network_base_url(network)}/callbacks/{provider}/{partner.pk}/notification/"


# --- state ----------------------------------------------------------------------------------------


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def _browser_nonce_new(session: Any) -> str:
    nonce = secrets.token_urlsafe(24)
    kept = [h for h in session.get(SESSION_KEY, []) if isinstance(h, str)]
    session[SESSION_KEY] = [*kept, _hash(nonce)][-SESSION_NONCES_KEPT:]
    return nonce


def _browser_nonce_spend(session: Any, browser_hash: str) -> bool:
    kept = [h for h in session.get(SESSION_KEY, []) if isinstance(h, str)]
    found = any(hmac.compare_digest(h, browser_hash) for h in kept)
    if found:
        session[SESSION_KEY] = [h for h in kept if h != browser_hash]
    return found


def state_read(state: str) -> ConnectState:
    """The state's contents; raises ConnectRefused when forged, expired or malformed."""
    if not state or len(state) > 1024:
        raise ConnectRefused(_("Неверный параметр state."), "bad_state")
    try:
        data = signing.loads(state, salt=STATE_SALT, max_age=STATE_MAX_AGE)
    except signing.SignatureExpired:
        raise ConnectRefused(
            _("Ссылка подключения устарела: начните подключение заново."), "state_expired"
        ) from None
    except signing.BadSignature:
        raise ConnectRefused(_("Неверный параметр state."), "bad_state") from None
    names = ("n", "p", "s", "u", "b", "x")
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in names):
        raise ConnectRefused(_("Неверный параметр state."), "bad_state")
    return ConnectState(data["n"], data["p"], data["s"], data["u"], data["b"], data["x"])


# --- the three steps ------------------------------------------------------------------------------


def oauth_connect_url(
    *, network: Network, partner: Partner, provider: str, user_uid: str, session: Any
) -> str:
    """The provider's consent URL for this partner. Raises ConnectRefused (a provider that does
    not connect by OAuth, or whose OAuth app is not set up on this platform)."""
    if provider not in registry.PROVIDERS or not (
        registry.get_provider_class(provider).connects_by_oauth
    ):
        raise ConnectRefused(_("Этот провайдер не подключается через OAuth."), "not_supported")
    state = signing.dumps(
        {
            "n": network.slug,
            "p": str(partner.pk),
            "s": provider,
            "u": user_uid,
            "b": _hash(_browser_nonce_new(session)),
            "x": secrets.token_urlsafe(12),
        },
        salt=STATE_SALT,
        compress=True,
    )
    try:
        return provider_for(provider).oauth_authorize_url(state)
    except ProviderConfigError as exc:
        logger.warning("oauth connect for %s not available: %s", provider, exc.code)
        raise ConnectRefused(
            _(
                "Подключение через OAuth на платформе не настроено. Введите ключи магазина в "
                "карточке партнёра."
            ),
            "oauth_not_configured",
        ) from None


def oauth_callback_next(*, provider: str, query: Mapping[str, str]) -> str:
    """On the platform host: where the browser finishes (the network's panel), once the state's
    signature, expiry, provider and network hold. Raises ConnectRefused."""
    parsed = state_read(query.get("state", ""))
    if parsed.provider != provider:
        raise ConnectRefused(
            _("Ссылка подключения выдана другому провайдеру."), "state_other_provider"
        )
    with schema_context("public"):
        network = Network.objects.filter(slug=parsed.network_slug).first()
    if network is None or network.is_suspended:
        raise ConnectRefused(_("Сеть не найдена или приостановлена."), "unknown_network")
    forward = {
        name: query[name][:2048]
        for name in ("code", "state", "error", "error_description")
        if query.get(name)
    }
    path = FINISH_PATH.format(partner_id=parsed.partner_id)
    return f"{network_base_url(network)}{path}?{urlencode(forward)}"


def oauth_finish(
    *,
    network: Network,
    partner: Partner,
    user_uid: str,
    actor: str,
    session: Any,
    query: Mapping[str, str],
    ip_address: str | None = None,
) -> Connected:
    """In the network's panel, for the person who started it: exchange the code, keep the token
    sealed, read the shop, register the notifications. Raises ConnectRefused (then nothing is
    stored). The caller retires the shop's open invoices (its credentials changed)."""
    parsed = state_read(query.get("state", ""))
    if parsed.network_slug != network.slug or parsed.partner_id != str(partner.pk):
        raise ConnectRefused(_("Ссылка подключения выдана для другого партнёра."), "state_other")
    if not hmac.compare_digest(parsed.user_uid, user_uid):
        raise ConnectRefused(
            _("Подключение начал другой человек. Начните его заново на странице партнёра."),
            "state_other_person",
        )
    if not _browser_nonce_spend(session, parsed.browser_hash):
        raise ConnectRefused(
            _("Подключение начато в другом браузере. Начните его заново на странице партнёра."),
            "state_other_browser",
        )
    with schema_context("public"):
        if not cache.add(f"provider-oauth-state:{parsed.key}", 1, STATE_MAX_AGE + 60):
            raise ConnectRefused(_("Эта ссылка подключения уже использована."), "state_used")
    if query.get("error") or not query.get("code"):
        raise ConnectRefused(
            _("Доступ к магазину не выдан: подключение отменено в кабинете провайдера."),
            "access_denied",
        )
    provider = provider_for(parsed.provider)
    try:
        connected = provider.oauth_connect(query["code"][:2048])
    except ProviderError as exc:
        logger.warning("oauth code exchange for %s failed: %s", parsed.provider, exc.code)
        raise ConnectRefused(
            _(
                "Провайдер не принял код подключения (он действует 5 минут и только один раз). "
                "Начните подключение заново."
            ),
            "code_refused",
        ) from None
    account = _account_store(
        partner=partner,
        provider=parsed.provider,
        login=connected.login,
        secrets=dict(connected.secrets),
        shop=connected.shop,
        actor=actor,
        ip_address=ip_address,
    )
    url = notification_url(network=network, partner=partner, provider=parsed.provider)
    try:
        events = provider.notifications_register(account_data(account), url)
    except ProviderError as exc:
        logger.warning("notifications for partner %s not registered: %s", partner.pk, exc.code)
        return Connected(shop=connected.shop, events=(), notifications_problem=exc.code)
    Partner.objects.filter(pk=partner.pk).update(
        shop_checked_at=timezone.now(), shop_check_error=""
    )
    return Connected(shop=connected.shop, events=events)


@transaction.atomic
def _account_store(
    *,
    partner: Partner,
    provider: str,
    login: str,
    secrets: dict[str, str],
    shop: ShopCheck,
    actor: str,
    ip_address: str | None,
) -> ProviderAccount:
    account = ProviderAccount.objects.select_for_update().filter(partner=partner).first()
    if account is None:
        account = ProviderAccount(partner=partner)
    changes: dict[str, tuple[Any, Any]] = {}
    before = None if account._state.adding else account.provider
    if before != provider:
        changes["provider"] = (before, provider)
    if account.merchant_login != login[:100] or before != provider:
        changes[f"{provider}.login"] = (account.merchant_login or None, login[:100])
    for flag, value in (("test_mode", shop.test), ("fiscalization", shop.fiscalization)):
        if getattr(account, flag) != value or before != provider:
            changes[f"{provider}.{flag}"] = (getattr(account, flag), value)
    secret_names = [f"{provider}.{name}" for name in secrets]
    for name in secret_names:
        changes[name] = (None, None)
    account.provider = provider
    account.merchant_login = login[:100]
    # The OAuth token replaces whatever the shop was entered with (keys, Robokassa's passwords).
    account.provider_secrets = secrets
    for column in ProviderAccount.SECRET_FIELDS:
        setattr(account, column, None)
    account.test_mode = shop.test
    account.fiscalization = shop.fiscalization
    account.invoice_numbers_checked_at = None
    account.invoice_numbers_problem = ""
    account.save()
    audit_record(
        actor=actor,
        action="partner.provider_connect",
        obj=partner,
        changes=changes,
        secret_fields=secret_names,
        ip_address=ip_address,
    )
    return account


def shop_check(*, partner: Partner) -> ShopCheck:
    """Ask the partner's provider about its shop by API and record the outcome on the partner
    (``shop_checked_at``, or ``shop_check_error`` in Russian). Raises ConnectRefused."""
    account = ProviderAccount.objects.filter(partner=partner).first()
    if account is None or account.provider not in registry.PROVIDERS:
        raise ConnectRefused(_("У партнёра нет магазина."), "no_shop")
    try:
        found = provider_for(account.provider).shop_check(account_data(account))
    except ProviderConfigError as exc:
        message = _(
            "Провайдер не принял данные магазина: проверьте идентификатор и ключ "
            "или подключите магазин заново."
        )
        Partner.objects.filter(pk=partner.pk).update(shop_check_error=message)
        raise ConnectRefused(message, exc.code) from None
    except ProviderError as exc:
        raise ConnectRefused(
            _("Провайдер сейчас не отвечает. Попробуйте проверить ещё раз через минуту."),
            exc.code,
        ) from None
    problems = shop_check_problems(account=account, found=found)
    Partner.objects.filter(pk=partner.pk).update(
        shop_checked_at=None if problems else timezone.now(),
        shop_check_error="; ".join(problems)[:300],
    )
    return found


def shop_check_problems(*, account: ProviderAccount, found: ShopCheck) -> list[str]:
    """What stands between the shop the provider describes and the one the platform stores."""
    problems: list[str] = []
    if found.shop_id and found.shop_id != account.merchant_login:
        problems.append(
            _("Ключ относится к магазину %(found)s, а в карточке указан %(stored)s")
            % {"found": found.shop_id[:40], "stored": account.merchant_login[:40]}
        )
    if not found.enabled:
        problems.append(_("Магазин отключён у провайдера и не принимает платежи"))
    if found.test != account.test_mode:
        problems.append(
            _("Провайдер считает магазин тестовым, а в карточке он боевой")
            if found.test
            else _("Провайдер считает магазин боевым, а в карточке он тестовый")
        )
    if found.fiscalization and not account.fiscalization:
        problems.append(
            _(
                "Провайдер отправляет чеки за магазин: включите чеки (54-ФЗ) в настройках "
                "магазина в карточке партнёра, иначе платежи будут отклонены"
            )
        )
    return problems
