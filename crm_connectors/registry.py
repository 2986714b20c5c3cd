"""CRM slug → connector class and CRM app declaration. The core builds connectors only through
``get_connector`` and reaches a CRM's OAuth, card token and limits only through ``crm_app``."""

from __future__ import annotations

import importlib
from typing import Any

from crm_connectors.app import CardFrame, CrmApp
from crm_connectors.base import CrmConnector

CONNECTORS: dict[str, str] = {
    "amocrm": "crm_connectors.amocrm.connector.AmoCrmConnector",
    "bitrix24": "crm_connectors.bitrix24.connector.Bitrix24Connector",
    "dummy": "crm_connectors.dummy.connector.DummyCrmConnector",
}

APPS: dict[str, str] = {
    "amocrm": "crm_connectors.amocrm.app.APP",
    "bitrix24": "crm_connectors.bitrix24.app.APP",
    "dummy": "crm_connectors.dummy.app.APP",
}


def crm_app(slug: str) -> CrmApp:
    """The declaration of the CRM ``slug``; LookupError for a CRM without one."""
    app = _resolve(APPS, slug, f"unknown CRM app {slug!r}")
    if not isinstance(app, CrmApp):
        raise TypeError(f"{APPS[slug]} is not a CrmApp")
    return app


def _resolve(table: dict[str, str], slug: str, missing: str) -> Any:
    """The object a table names by its dotted path; LookupError(``missing``) for no entry."""
    try:
        dotted = table[slug]
    except KeyError:
        raise LookupError(missing) from None
    module_name, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), name)


def connector_class(slug: str) -> type[CrmConnector]:
    cls = _resolve(CONNECTORS, slug, f"unknown CRM connector {slug!r}")
    if not (isinstance(cls, type) and issubclass(cls, CrmConnector)):
        raise TypeError(f"{CONNECTORS[slug]} is not a CrmConnector")
    return cls


def get_connector(slug: str, **options: Any) -> CrmConnector:
    """Build the connector for ``slug`` with its keyword options (see each class)."""
    return connector_class(slug)(**options)


# CRMs whose card UI is an iframe opened by a browser POST (crm_connectors.app.CardFrame).
CARD_FRAMES: dict[str, str] = {
    "bitrix24": "crm_connectors.bitrix24.card_frame.FRAME",
}


def card_frame(slug: str) -> CardFrame:
    """The frame declaration of the CRM ``slug``; LookupError for a CRM without one."""
    frame = _resolve(CARD_FRAMES, slug, f"no card frame for CRM {slug!r}")
    if not isinstance(frame, CardFrame):
        raise TypeError(f"{CARD_FRAMES[slug]} is not a CardFrame")
    return frame
