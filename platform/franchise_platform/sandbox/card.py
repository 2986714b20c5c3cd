"""The sandbox deal card (platform host, /sandbox/): a stand-in of amoCRM's lead card that loads the
real widget (frontend/amocrm_widget/, built for this platform's origin) the way amoCRM does, with a
disposable token minted here, for the demo account only, as amoCRM mints it."""

from __future__ import annotations

import importlib.util
import mimetypes
import time
import uuid
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

import django
import jwt
from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from crm_connectors.base import PAYMENT_STATUS_LABELS
from crm_connectors.dummy.connector import DummyLead

from .demo import DEMO_ACCOUNT_ID, DEMO_SUBDOMAIN, WALK_LEAD_ID, demo_connector

WIDGET_SRC = Path(settings.REPO_DIR) / "frontend" / "amocrm_widget"
# amoCRM's pages carry jQuery; Django's admin ships one (no download, no copy in the repository).
JQUERY = Path(django.__file__).parent / "contrib/admin/static/admin/js/vendor/jquery/jquery.min.js"
TOKEN_SECONDS = 300
DEMO_USER_ID = 4242


@lru_cache(maxsize=1)
def _widget_files() -> dict[str, bytes]:
    spec = importlib.util.spec_from_file_location("_fpl_sandbox_build", WIDGET_SRC / "build.py")
    assert spec is not None
    assert spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    files: dict[str, bytes] = build.collect_files(
        build.normalize_base_url(settings.PLATFORM_BASE_URL)
    )
    return files


def _lead_view(lead: DummyLead, labels: dict[int, str], options: dict[str, int]) -> dict[str, Any]:
    state = lead.state
    option = options.get(lead.location_key or "")
    return {
        "id": lead.lead_id,
        "title": lead.title,
        "price": str(lead.price),
        "location": labels.get(option, "") if option else "",
        "prepayment_url": state.prepayment_url if state else None,
        "full_url": state.full_url if state else None,
        "paid_sum": str(state.paid_sum) if state else None,
        # As a CRM shows it: the label of the status field's option.
        "status": PAYMENT_STATUS_LABELS.get(state.status_label, state.status_label)
        if state
        else None,
        "notes": [text for _, text in lead.notes],
    }


def _leads() -> tuple[list[dict[str, Any]], dict[str, int]]:
    connector = demo_connector()
    with connector.store.lock:
        account = connector.store.account(DEMO_ACCOUNT_ID)
        leads = [
            _lead_view(lead, account.option_labels, account.location_options)
            for lead in sorted(account.leads.values(), key=lambda item: item.lead_id)
        ]
        return leads, dict(account.location_options)


@never_cache
@require_GET
def card(request: HttpRequest) -> HttpResponse:
    leads, _ = _leads()
    try:
        lead_id = int(request.GET.get("lead", WALK_LEAD_ID))
    except ValueError:
        lead_id = WALK_LEAD_ID
    lead = next((item for item in leads if item["id"] == lead_id), None)
    if lead is None and leads:
        lead = leads[0]
    context = {
        "lead": lead,
        "leads": leads,
        "account_id": DEMO_ACCOUNT_ID,
        "subdomain": DEMO_SUBDOMAIN,
    }
    return render(request, "sandbox/card.html", context)


@never_cache
@require_GET
def lead_state(request: HttpRequest, lead_id: int) -> JsonResponse:
    leads, _ = _leads()
    lead = next((item for item in leads if item["id"] == lead_id), None)
    if lead is None:
        raise Http404
    return JsonResponse(lead)


@require_POST
def lead_create(request: HttpRequest) -> HttpResponse:
    """A new lead in the stand-in CRM, priced as asked, at the location of an existing lead."""
    leads, options = _leads()
    try:
        price = Decimal(request.POST.get("price", "5000").strip().replace(",", "."))
        if not price.is_finite():  # NaN would pass quantize and break the comparisons below
            raise InvalidOperation
        price = price.quantize(Decimal("1"))
    except InvalidOperation:
        price = Decimal("5000")
    price = min(max(price, Decimal("1")), Decimal("9999999"))
    connector = demo_connector()
    with connector.store.lock:
        account = connector.store.account(DEMO_ACCOUNT_ID)
        template = account.leads.get(WALK_LEAD_ID)
        lead_id = max([lead["id"] for lead in leads] + [WALK_LEAD_ID]) + 1
        connector.seed_lead(
            lead_id,
            title="Новая сделка",
            price=price,
            location_key=template.location_key if template else next(iter(options), None),
        )
    return redirect(f"/sandbox/?lead={lead_id}")


@never_cache
@require_POST
def token(request: HttpRequest) -> JsonResponse:
    """A disposable token for the demo account, shaped and signed as amoCRM's (X-Auth-Token)."""
    issued = int(time.time())
    claims = {
        "iss": f"https://{DEMO_SUBDOMAIN}.amocrm.ru",
        "aud": settings.PLATFORM_BASE_URL,
        "jti": str(uuid.uuid4()),
        "iat": issued,
        "nbf": issued,
        "exp": issued + TOKEN_SECONDS,
        "account_id": DEMO_ACCOUNT_ID,
        "user_id": DEMO_USER_ID,
        "subdomain": DEMO_SUBDOMAIN,
        "client_uuid": settings.AMOCRM_CLIENT_ID,
    }
    value = jwt.encode(claims, settings.AMOCRM_CLIENT_SECRET, algorithm="HS256")
    return JsonResponse({"token": value})


@require_GET
def widget_file(request: HttpRequest, path: str) -> HttpResponse:
    files = _widget_files()
    if path not in files:
        raise Http404
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return HttpResponse(files[path], content_type=content_type)


@require_GET
def jquery(request: HttpRequest) -> FileResponse:
    if not JQUERY.is_file():
        raise Http404
    return FileResponse(JQUERY.open("rb"), content_type="text/javascript")
