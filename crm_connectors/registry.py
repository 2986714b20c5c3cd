"""CRM slug → connector class. The core builds connectors only through ``get_connector``."""

from __future__ import annotations

import importlib
from typing import Any

from crm_connectors.base import CrmConnector

CONNECTORS: dict[str, str] = {
    "amocrm": "crm_connectors.amocrm.connector.AmoCrmConnector",
    "dummy": "crm_connectors.dummy.connector.DummyCrmConnector",
}


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
