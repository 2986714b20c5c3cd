"""Template context every panel page gets: the name of the network's own CRM, which the panel's
texts about the CRM use (amoCRM's networks read «amoCRM», as before)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import translation

from crm_connectors.registry import crm_app

DEFAULT_CRM_TITLE = "amoCRM"


def crm_title_of(slug: str | None) -> str:
    """The title of the CRM ``slug``; amoCRM's for an unknown or empty one."""
    if not slug:
        return DEFAULT_CRM_TITLE
    try:
        app = crm_app(slug)
    except LookupError:
        return DEFAULT_CRM_TITLE
    if app.title_ru and (translation.get_language() or "ru").startswith("ru"):
        return app.title_ru
    return app.title


def network_crm(request: HttpRequest) -> dict[str, str]:
    tenant = getattr(request, "tenant", None)
    slug = getattr(tenant, "crm", None)
    return {"crm_title": crm_title_of(slug), "crm_slug": slug or "amocrm"}
