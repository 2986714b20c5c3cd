"""The page a CRM's installer frame shows after the install (Bitrix24 §1.2 A: the app's page in
the portal, opened by an administrator): to an administrator of a portal no network has claimed,
the claim code and the sign-up link carrying it; to one of a bound portal, which network it
works with. Nobody else reaches it: the install handler refuses a non-admin before this."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation

from crm_connectors.registry import crm_app
from tenants.claims import claim_code_issue
from tenants.errors import ClaimRefused
from tenants.models import CrmAccountBinding

SIGNUP_PATH = "/signup/"


def frame_language(query: dict[str, str]) -> str:
    """The portal's UI language (the frame's ``LANG``): English for ``en``, Russian otherwise."""
    return "en" if query.get("LANG", "").lower() == "en" else "ru"


def install_page(
    request: HttpRequest,
    *,
    binding: CrmAccountBinding | None,
    refused: str = "",
    status: int = 200,
    language: str = "ru",
) -> HttpResponse:
    """Render the installer frame's answer; framed by the portal only once the install is
    confirmed (its stored address, never the posted ``DOMAIN``)."""
    context: dict[str, Any] = {"refused": refused, "finished": False}
    with translation.override(language):
        if binding is not None and not refused:
            context["finished"] = True
            if binding.state == CrmAccountBinding.State.BOUND and binding.network is not None:
                context["bound_network"] = binding.network
            else:
                try:
                    claim = claim_code_issue(
                        crm=binding.crm,
                        account_id=binding.account_id,
                        user_id=binding.installer_user_id or 0,
                        is_admin=None,
                    )
                except ClaimRefused as exc:
                    context.update(refused=exc.detail, finished=False)
                    status = exc.status
                else:
                    context["claim"] = claim
                    context["signup_url"] = _signup_url(binding, claim.code)
        response = render(request, "integrations/b24_install.html", context, status=status)
    if binding is not None and binding.base_url.startswith("https://"):
        response._csp_replace = {"frame-ancestors": [binding.base_url]}  # type: ignore[attr-defined]
        install = crm_app(binding.crm).install
        origins = list(install.page_script_origins) if install is not None else []
        if origins:
            response._csp_update = {"script-src": origins}  # type: ignore[attr-defined]
        response.xframe_options_exempt = True
    return response


def _signup_url(binding: CrmAccountBinding, code: str) -> str:
    subdomain = binding.subdomain.split(".", 1)[0]
    query = urlencode({"crm": binding.crm, "claim": code, "subdomain": subdomain})
    return f"{settings.PLATFORM_BASE_URL}{SIGNUP_PATH}?{query}"
