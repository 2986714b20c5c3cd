"""The core's only way to a CRM: the registry, built for one connection with a database-backed
token store (rotated tokens saved under a row lock) and the shared Redis rate limiter."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import redis
from django.conf import settings
from django.db import transaction

from crm_connectors import registry
from crm_connectors.app import ConnectorTarget, CrmApp
from crm_connectors.base import CrmConnector, FieldMap, OAuthTokens, RateLimiter
from crm_connectors.errors import CrmAuthError

from .models import ConnectionStatus, CrmConnection

logger = logging.getLogger(__name__)

OAUTH_CALLBACK_PATH = "/integrations/{crm}/oauth/callback/"


def redirect_uri(crm: str = "amocrm") -> str:
    return settings.PLATFORM_BASE_URL + OAUTH_CALLBACK_PATH.format(crm=crm)


def app_setting(app: CrmApp, name: str) -> Any:
    """The CRM's own setting ``<prefix>_<name>`` (e.g. AMOCRM_CLIENT_ID)."""
    return getattr(settings, f"{app.settings_prefix}_{name}")


@lru_cache(maxsize=1)
def _redis() -> redis.Redis[bytes]:
    return redis.Redis.from_url(settings.REDIS_URL)


BACKGROUND_PREFIX = "background:"


class PriorityRateLimiter:
    """The account's budget (AMOCRM_RATE_LIMIT_PER_SECOND, shared by every process) plus a smaller
    one that background work (the outbox) must pass first, so that a manager's button press always
    finds a slot even while hundreds of payments are being written to the CRM."""

    def __init__(self, main: RateLimiter, background: RateLimiter) -> None:
        self.main = main
        self.background = background

    def acquire(self, key: str, timeout: float) -> bool:
        limiter = self.background if key.startswith(BACKGROUND_PREFIX) else self.main
        return limiter.acquire(key, timeout)


_BUDGET_METHODS = ("operating_wait", "note_operating", "block_method", "saturate")


class BudgetedPriorityRateLimiter(PriorityRateLimiter):
    """The same, for a CRM whose limiter also keeps a per-method time budget (Bitrix24's,
    spec §3.6): the budget is the account's, so it is the main limiter's."""

    def operating_wait(self, key: str, method: str) -> float:
        return float(self.main.operating_wait(key, method))  # type: ignore[attr-defined]

    def note_operating(
        self, key: str, method: str, operating: float, reset_at: float | None
    ) -> None:
        self.main.note_operating(key, method, operating, reset_at)  # type: ignore[attr-defined]

    def block_method(self, key: str, method: str, seconds: float) -> None:
        self.main.block_method(key, method, seconds)  # type: ignore[attr-defined]

    def saturate(self, key: str) -> None:
        self.main.saturate(key)  # type: ignore[attr-defined]


def rate_limiter(crm: str = "amocrm") -> PriorityRateLimiter:
    # The margin widens each 1-second window: between a grant and the request reaching amoCRM a
    # busy worker can lose a hundred milliseconds, which would bunch 8 arrivals into one second.
    app = registry.crm_app(crm)
    margin = app_setting(app, "RATE_LIMIT_MARGIN")
    main = app.rate_limiter(_redis(), rate=app_setting(app, "RATE_LIMIT_PER_SECOND"), margin=margin)
    background = app.rate_limiter(
        _redis(), rate=app_setting(app, "BACKGROUND_RATE_PER_SECOND"), margin=margin
    )
    if all(callable(getattr(main, name, None)) for name in _BUDGET_METHODS):
        return BudgetedPriorityRateLimiter(main, background)
    return PriorityRateLimiter(main, background)


def tokens_of(connection: CrmConnection) -> OAuthTokens:
    return OAuthTokens(
        access_token=connection.access_token or "",
        refresh_token=connection.refresh_token or "",
        # No expiry known means "refresh before use".
        expires_at=connection.expires_at or datetime.fromtimestamp(0, tz=UTC),
    )


class DbTokenStore:
    """TokenStore over the CrmConnection row: the row lock serialises refreshes across every
    process, and the rotated pair is saved in the same transaction that held the lock."""

    def __init__(self, connection_id: uuid.UUID) -> None:
        self.connection_id = connection_id

    def __repr__(self) -> str:
        return f"DbTokenStore({self.connection_id})"

    def current(self) -> OAuthTokens:
        return tokens_of(CrmConnection.objects.get(pk=self.connection_id))

    def refresh(self, refresher: Callable[[OAuthTokens], OAuthTokens]) -> OAuthTokens:
        with transaction.atomic():
            row = CrmConnection.objects.select_for_update().get(pk=self.connection_id)
            stored = tokens_of(row)
            fresh = refresher(stored)
            if fresh is not stored:
                row.access_token = fresh.access_token
                row.refresh_token = fresh.refresh_token
                row.expires_at = fresh.expires_at
                row.save(
                    update_fields=["access_token", "refresh_token", "expires_at", "updated_at"]
                )
            return fresh


BAD_HOST_ERROR_TEMPLATE = "Адрес аккаунта {title} недопустим: переподключите {title}."
BAD_HOST_ERROR = BAD_HOST_ERROR_TEMPLATE.format(title="amoCRM")


def api_base_url(connection: CrmConnection) -> str:
    """Where this connection's calls go. The stored host is checked again every time (a row
    written before the strict referer parse may name any host, and our Bearer tokens and, on a
    refresh, the client secret would go there): a bad one marks the connection for reconnecting
    and raises CrmAuthError before anything is sent. The override still needs a valid stored host."""
    app = registry.crm_app(connection.crm)
    try:
        origin = app.oauth.account_origin(app.oauth.stored_account_host(connection.base_url))
    except ValueError:
        CrmConnection.objects.filter(pk=connection.pk).update(
            status=ConnectionStatus.REVOKED,
            last_error=BAD_HOST_ERROR_TEMPLATE.format(title=app.title),
        )
        connection.status = ConnectionStatus.REVOKED
        logger.warning(
            "refused the stored host of %s account %s", connection.crm, connection.account_id
        )
        raise CrmAuthError(
            "stored account host is not an amoCRM host", code="bad_account_host"
        ) from None
    return str(app_setting(app, "API_BASE_URL")).rstrip("/") or origin


def connector_for(connection: CrmConnection, *, background: bool = False) -> CrmConnector:
    """The connector for one account. `background` work (the outbox) draws on a smaller budget
    first and may wait longer for a slot; interactive calls (the button) draw only on the account's."""
    app = registry.crm_app(connection.crm)
    account_id = str(connection.account_id)
    options = (
        app.client_options(f"{BACKGROUND_PREFIX}{account_id}", 10.0)
        if background
        else app.client_options(None, None)
    )
    # Checked before anything is built: a bad stored host raises CrmAuthError here.
    api_base_url(connection)
    target = ConnectorTarget(
        account_id=account_id,
        base_url=app.oauth.account_origin(app.oauth.stored_account_host(connection.base_url)),
        api_base_url=str(app_setting(app, "API_BASE_URL")).rstrip("/"),
        redirect_uri=redirect_uri(connection.crm),
    )
    return registry.get_connector(
        connection.crm,
        token_store=DbTokenStore(connection.pk),
        limiter=rate_limiter(connection.crm),
        client_id=app_setting(app, "CLIENT_ID"),
        client_secret=app_setting(app, "CLIENT_SECRET"),
        client_options=options,
        **app.connector_kwargs(target),
        **settings.CRM_CONNECTOR_OPTIONS.get(connection.crm, {}),
    )


def field_map_of(connection: CrmConnection) -> FieldMap | None:
    return FieldMap.from_dict(connection.field_map) if connection.field_map else None
