"""The deal card of a CRM that opens its embedded UI as an iframe by a POST from the user's browser
(``/integrations/<crm>/placement/``, for a CRM with a ``CardFrame``: Bitrix24's deal tab,
shared/specs/bitrix24.md §1.3, §5).

Everything posted is untrusted. The account id it names only finds the stored installation (a
bound network with a connected account); the CRM's card frame then proves the POST against the
**stored** account (for Bitrix24: the application token, a deal placement, a digits-only deal id,
``app.info`` with the frame's ``AUTH_ID``). Only then is a frame token issued (never logged, never
in a URL) and the card rendered: the same card as the amoCRM widget's (frontend/static/card/),
talking to the same widget API with that token. The answer may be framed by that account's
stored origin only. A refused POST answers a 4xx page and writes nothing.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django_tenants.utils import tenant_context

from crm_connectors.errors import CrmError, WidgetTokenError
from crm_connectors.registry import card_frame
from franchise_platform.db import schema_to_public

from .connectors import connector_for
from .frame_auth import frame_target_find, frame_token_issue

logger = logging.getLogger(__name__)

# One catalogue of the card's strings for both CRMs (the amoCRM widget ships the same files).
CARD_I18N_DIR = Path(settings.REPO_DIR) / "frontend" / "amocrm_widget" / "i18n"
_RUSSIAN_UI = ("ru", "ua", "by", "kz")
_MAX_BODY = 64 * 1024


def ui_language(portal_lang: str) -> str:
    """The portal's LANG → ``ru`` or ``en`` (Russian for the CIS portals, English otherwise)."""
    code = (portal_lang or "").strip().lower()[:2]
    return "ru" if not code or code in _RUSSIAN_UI else "en"


@lru_cache(maxsize=4)
def card_strings(language: str) -> dict[str, Any]:
    catalog = json.loads((CARD_I18N_DIR / f"{language}.json").read_text(encoding="utf-8"))
    strings = catalog.get("lcard")
    return strings if isinstance(strings, dict) else {}


def _refusal(
    request: HttpRequest, status: int, message: str, code: str, *, frame_origin: str = ""
) -> HttpResponse:
    """A refusal page. Framed only by the stored account's origin once one is known (so the
    manager reads why in the tab); before that by nobody (a blank tab, nothing to click)."""
    response = render(
        request,
        "integrations/card_frame_refused.html",
        {"message": message, "code": code},
        status=status,
    )
    if frame_origin:
        response._csp_replace = {"frame-ancestors": [frame_origin]}  # type: ignore[attr-defined]
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
@xframe_options_exempt
def placement(request: HttpRequest, crm: str) -> HttpResponse:
    language = ui_language(str(request.GET.get("LANG", "")))
    with translation.override(language):
        try:
            return _placement(request, crm, language)
        finally:
            schema_to_public()


def _placement(request: HttpRequest, crm: str, language: str) -> HttpResponse:
    try:
        frame = card_frame(crm)
    except LookupError:
        return _refusal(request, 404, _("Такой страницы нет."), "unknown_crm")
    if request.method != "POST":
        response = _refusal(
            request, 405, _("Эта страница открывается только из карточки сделки."), "method"
        )
        response["Allow"] = "POST"
        return response
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > _MAX_BODY or len(request.body) > _MAX_BODY:
        return _refusal(request, 413, _("Слишком большой запрос."), "too_large")
    query = request.GET.dict()
    not_ours = _("Не удалось подтвердить, что вкладку открыл %(crm)s. Откройте сделку заново.") % {
        "crm": frame.title
    }
    try:
        account_id = frame.account_of(query, request.body)
    except WidgetTokenError as exc:
        return _refusal(request, 400, not_ours, exc.code)
    target = frame_target_find(crm=crm, account_id=account_id)
    if target is None:
        return _refusal(
            request,
            403,
            _("Аккаунт %(crm)s не подключён ни к одной сети. Владельцу сети нужно подключить его.")
            % {"crm": frame.title},
            "unknown_portal",
        )
    try:
        stored_origin = frame.origin_of(target.installation)
    except ValueError:
        stored_origin = ""  # a stored endpoint we no longer trust frames nothing
    if target.network.is_suspended:
        return _refusal(
            request,
            403,
            _("Работа сети временно приостановлена. Обратитесь к владельцу сети."),
            "network_suspended",
            frame_origin=stored_origin,
        )
    try:
        with tenant_context(target.network):
            opening = frame.open(
                query, request.body, target.installation, connector_for(target.connection)
            )
    except WidgetTokenError as exc:
        logger.info("refused a %s frame POST: %s", crm, exc.code)
        status = 400 if exc.code in ("malformed", "no_deal", "wrong_placement", "no_auth") else 403
        return _refusal(request, status, not_ours, exc.code, frame_origin=stored_origin)
    except CrmError as exc:
        logger.warning("%s did not answer the frame proof: %s", crm, exc.code)
        return _refusal(
            request,
            424,
            _("%(crm)s сейчас не отвечает. Откройте вкладку ещё раз через минуту.")
            % {"crm": frame.title},
            "crm_unavailable",
            frame_origin=stored_origin,
        )
    config = {
        "api": "/api/widget/v1",
        "dealId": opening.deal_id,
        "lang": language,
        "tokenHeader": frame.token_header,
        "token": frame_token_issue(crm, frame, opening),
        "strings": card_strings(language),
    }
    response = render(
        request,
        "integrations/card_frame.html",
        {"config": config, "language": language},
    )
    # Framed by this account's stored origin only (never one the POST names).
    response._csp_replace = {"frame-ancestors": [opening.frame_origin]}  # type: ignore[attr-defined]
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
