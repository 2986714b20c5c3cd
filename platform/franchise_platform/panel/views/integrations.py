"""amoCRM from the owner's side: the connection and its state, the lead fields in use (or the
owner's own), and the outbox: what waits, what the CRM never took, and a retry for it."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from franchise_platform.crm_sync.connect import ConnectError, connect_url, oauth_finish
from franchise_platform.crm_sync.models import ConnectionStatus
from franchise_platform.crm_sync.oauth_state import browser_nonce_new
from franchise_platform.crm_sync.services import (
    FieldMapRejected,
    crm_field_map_set,
    crm_outbox_retry,
    crm_outbox_retry_all,
)
from tenants.crm_choice import (
    crm_choices,
    crm_installs_itself,
    network_crm_connected,
    network_crm_set,
)
from tenants.errors import NetworkError

from ..access import actor, forbidden, page, panel_view
from ..context import crm_title_of
from ..forms import CrmFieldMapForm
from ..selectors import crm_connection_get, outbox_dead_list, outbox_health, outbox_message_get
from .stages import CrmStageMapForm, stages_context

DEAD_SHOWN = 100
# The roles in the order amoCRM's lead card shows our fields, with the names we create them under.
FIELD_ROLES = (
    ("location_field_id", "Локация"),
    ("prepayment_url_field_id", "Ссылка на предоплату"),
    ("full_url_field_id", "Ссылка на полную оплату"),
    ("paid_sum_field_id", "Оплачено"),
    ("status_field_id", "Статус оплаты"),
)


def _render(
    request: HttpRequest,
    form: CrmFieldMapForm | None = None,
    *,
    status: int = 200,
    stage_form: CrmStageMapForm | None = None,
) -> HttpResponse:
    connection = crm_connection_get()
    field_map = (connection.field_map or {}) if connection else {}
    if form is None:
        form = CrmFieldMapForm(
            initial={
                role: field_map.get(role)
                for role in [*(r for r, _ in FIELD_ROLES), "service_date_field_id"]
            }
        )
    network = request.tenant  # type: ignore[attr-defined]
    dead = list(outbox_dead_list()[:DEAD_SHOWN])
    health = outbox_health()
    oldest = health.oldest_pending_at
    context = {
        "crm": connection,
        "crm_status": ConnectionStatus,
        "fields": [(name, field_map.get(role)) for role, name in FIELD_ROLES],
        "location_options": len(field_map.get("location_options") or {}),
        "form": form,
        "health": health,
        # timesince says "0 minutes" for a message queued seconds ago
        "pending_fresh": oldest is not None and timezone.now() - oldest < timedelta(minutes=1),
        "dead": dead,
        **stages_context(connection, stage_form),
        **_crm_choice_context(network),
    }
    return page(request, "panel/integrations/index.html", context, status=status)


def _crm_choice_context(network: object) -> dict[str, object]:
    chosen = getattr(network, "crm", "amocrm")
    return {
        "crm_chosen": chosen,
        "crm_chosen_title": dict(crm_choices()).get(chosen, chosen),
        "crm_options": crm_choices(),
        "crm_switchable": not network_crm_connected(network),  # type: ignore[arg-type]
        # Where the owner points a CRM that posts its installs: the install handler takes the
        # install callback and the installer frame alike, and shows the claim code afterwards.
        "crm_install_url": (
            settings.PLATFORM_BASE_URL
            + reverse("crm-install", urlconf=settings.PUBLIC_SCHEMA_URLCONF, kwargs={"crm": chosen})
            if crm_installs_itself(chosen)
            else ""
        ),
    }


@panel_view()
def integrations(request: HttpRequest) -> HttpResponse:
    return _render(request)


@require_POST
@panel_view(edit=True)
def crm_choose(request: HttpRequest) -> HttpResponse:
    """The network's CRM, switched while no account of any CRM is connected."""
    try:
        network = network_crm_set(
            network=request.tenant,  # type: ignore[attr-defined]
            crm=request.POST.get("crm", ""),
            **actor(request),
        )
    except NetworkError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(
            request,
            _("CRM сети: %(title)s. Ниже — как её подключить.")
            % {"title": dict(crm_choices()).get(network.crm, network.crm)},
        )
    return redirect("panel:integrations")


@require_POST
@panel_view(edit=True)
def amocrm_connect(request: HttpRequest) -> HttpResponse:
    """Off to amoCRM's consent page; it comes back to the platform host's Redirect URI, which
    sends this browser to `amocrm_finish`. `replace=1` comes only from the owner's confirm page."""
    replace = request.POST.get("replace") == "1" and request.POST.get("confirm") == "1"
    try:
        url = connect_url(
            network=request.tenant,  # type: ignore[attr-defined]
            user=request.user,  # type: ignore[arg-type]
            browser_nonce=browser_nonce_new(request.session),
            replace=replace,
        )
    except ConnectError as exc:
        return forbidden(request, exc.detail)
    return redirect(url)


@panel_view(edit=True)
def amocrm_replace(request: HttpRequest) -> HttpResponse:
    """The owner's confirm step before another amoCRM account replaces the bound one."""
    if not getattr(request.user, "is_owner", False):
        return forbidden(request, _("Заменить аккаунт amoCRM может только владелец сети."))
    return page(request, "panel/integrations/amocrm_replace.html", {"crm": crm_connection_get()})


@never_cache
@require_GET
@panel_view(edit=True)
def amocrm_finish(request: HttpRequest) -> HttpResponse:
    """Where the Redirect URI sends the browser: the person who asked, signed in here, finishes."""
    try:
        oauth_finish(
            network=request.tenant,  # type: ignore[attr-defined]
            user=request.user,  # type: ignore[arg-type]
            session=request.session,
            code=request.GET.get("code", ""),
            state=request.GET.get("state", ""),
            referer=request.GET.get("referer", ""),
            ip_address=actor(request)["ip_address"],
        )
    except ConnectError as exc:
        connection.set_tenant(request.tenant)  # type: ignore[attr-defined]
        return render(
            request,
            "integrations/oauth_result.html",
            {"ok": False, "message": exc.detail},
            status=400,
        )
    # The bind ends on the public schema; this request's session lives in the network's.
    connection.set_tenant(request.tenant)  # type: ignore[attr-defined]
    return render(
        request,
        "integrations/oauth_result.html",
        {"ok": True, "network": request.tenant},  # type: ignore[attr-defined]
    )


@require_POST
@panel_view(edit=True)
def crm_field_map(request: HttpRequest) -> HttpResponse:
    connection = crm_connection_get()
    if connection is None:
        messages.error(request, _("Сначала подключите %(crm)s.") % _crm_named(request))
        return redirect("panel:integrations")
    form = CrmFieldMapForm(request.POST)
    if form.is_valid():
        try:
            crm_field_map_set(connection=connection, **actor(request), **form.cleaned_data)
        except FieldMapRejected as exc:
            for role, problem in exc.problems.items():
                form.add_error(role, problem)
        else:
            messages.success(
                request,
                _("Поля сохранены. Платформа проверит их в amoCRM и заполнит список локаций."),
            )
            return redirect("panel:integrations")
    return _render(request, form, status=400)


@require_POST
@panel_view(edit=True)
def outbox_retry(request: HttpRequest, message_id: str) -> HttpResponse:
    message = outbox_message_get(message_id=message_id)
    if crm_outbox_retry(message_id=str(message.pk), **actor(request)):
        messages.success(request, _("Сообщение снова в очереди на отправку в amoCRM."))
    else:
        messages.warning(request, _("Это сообщение уже не ждёт повтора."))
    return redirect("panel:integrations")


@require_POST
@panel_view(edit=True)
def outbox_retry_all(request: HttpRequest) -> HttpResponse:
    """«Повторить все»: every dead message back in the queue (owners and admins; audited)."""
    revived = crm_outbox_retry_all(**actor(request))
    if revived:
        messages.success(
            request,
            _("Недоставленные обновления снова в очереди на отправку в amoCRM: %(n)s.")
            % {"n": revived},
        )
    else:
        messages.warning(request, _("Недоставленных обновлений нет."))
    return redirect("panel:integrations")


def _crm_named(request: HttpRequest) -> dict[str, str]:
    """The network's CRM for a message's ``%(crm)s``."""
    return {"crm": crm_title_of(getattr(getattr(request, "tenant", None), "crm", ""))}
