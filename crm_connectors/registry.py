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
    try:
        dotted = APPS[slug]
    except KeyError:
        raise LookupError(f"unknown CRM app {slug!r}") from None
    module_name, _, name = dotted.rpartition(".")
    app = getattr(importlib.import_module(module_name), name)
    if not isinstance(app, CrmApp):
        raise TypeError(f"{dotted} is not a CrmApp")
    return app


def connector_class(slug: str) -> type[CrmConnector]:
    try:
        dotted = CONNECTORS[slug]
    except KeyError:
        raise LookupError(f"unknown CRM connector {slug!r}") from None
    module_name, _, class_name = dotted.rpartition(".")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, CrmConnector)):
        raise TypeError(f"{dotted} is not a CrmConnector")
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
    try:
        dotted = CARD_FRAMES[slug]
    except KeyError:
        raise LookupError(f"no card frame for CRM {slug!r}") from None
    module_name, _, name = dotted.rpartition(".")
    frame = getattr(importlib.import_module(module_name), name)
    if not isinstance(frame, CardFrame):
        raise TypeError(f"{dotted} is not a CardFrame")
    return frame
