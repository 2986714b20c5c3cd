"""amoCRM described for the core (``crm_connectors.registry.crm_app("amocrm")``)."""

from __future__ import annotations

from typing import Any

from crm_connectors.amocrm import oauth
from crm_connectors.amocrm.client import AmoClientOptions, shared_http_client
from crm_connectors.amocrm.ratelimit import RedisRateLimiter
from crm_connectors.amocrm.widget_token import allowed_audiences, verify_widget_token
from crm_connectors.app import CrmApp, CrmOAuth
from crm_connectors.base import RateLimiter


def _authorize_url(client_id: str, state: str) -> str:
    return oauth.build_authorize_url(client_id, state, mode="popup")


def _verify_uninstall(
    client_uuid: str, account_id: str, signature: str, client_secret: str, client_id: str
) -> bool:
    return account_id.isdigit() and oauth.verify_disconnect_signature(
        client_uuid, account_id, signature, client_secret, client_id=client_id
    )


def _rate_limiter(redis: Any, *, rate: int, margin: float) -> RateLimiter:
    return RedisRateLimiter(redis, rate=rate, margin=margin)


def _client_options(
    shared_limit_key: str | None, limiter_timeout: float | None
) -> AmoClientOptions:
    if shared_limit_key is None and limiter_timeout is None:
        return AmoClientOptions()
    defaults = AmoClientOptions()
    return AmoClientOptions(
        shared_limit_key=shared_limit_key,
        limiter_timeout=defaults.limiter_timeout if limiter_timeout is None else limiter_timeout,
    )


APP = CrmApp(
    slug="amocrm",
    title="amoCRM",
    settings_prefix="AMOCRM",
    oauth=CrmOAuth(
        authorize_url=_authorize_url,
        account_host=oauth.account_host,
        account_origin=oauth.account_origin,
        stored_account_host=oauth.stored_account_host,
        exchange_code=oauth.exchange_code,
        fetch_account=oauth.fetch_account,
        verify_uninstall=_verify_uninstall,
    ),
    verify_card_token=verify_widget_token,
    allowed_origins=allowed_audiences,
    rate_limiter=_rate_limiter,
    client_options=_client_options,
    http_client=shared_http_client,
)
