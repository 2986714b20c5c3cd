"""The NinjaAPI instances: one per URL conf (platform host and network host), plus the widget API."""

from __future__ import annotations

from importlib import import_module

from ninja import NinjaAPI, Router

from tenants.api import router as signup_router

from .api_errors import document_common_errors, install_error_handlers


def _api(**kwargs: object) -> NinjaAPI:
    api = NinjaAPI(**kwargs)  # type: ignore[arg-type]
    install_error_handlers(api)
    return api


def build_public_api() -> NinjaAPI:
    api = _api(title="Franchise payments — platform API", version="1", urls_namespace="public_api")
    api.add_router("/", signup_router)
    return api


def build_network_api() -> NinjaAPI:
    api = _api(
        title="Franchise payments — network API",
        version="1",
        urls_namespace="network_api",
        description="Partners, locations, settings, deals and payments of one network. "
        "Authenticate with `Authorization: Bearer <api_token>`.",
    )
    for module, prefix in NETWORK_ROUTERS:
        api.add_router(prefix, _import_router(module))
    return api


def _import_router(module: str) -> Router:
    router: Router = import_module(module).router
    return router


# Each app contributes one Router from its api.py.
NETWORK_ROUTERS: list[tuple[str, str]] = [
    ("franchise_platform.network.api", "/"),
    ("franchise_platform.payments.api", "/"),
    ("franchise_platform.payments.refunds_api", "/"),
    ("franchise_platform.crm_sync.api", "/"),
    ("franchise_platform.royalties.api", "/"),
]

public_api = build_public_api()
network_api = build_network_api()
document_common_errors(public_api)
document_common_errors(network_api)
