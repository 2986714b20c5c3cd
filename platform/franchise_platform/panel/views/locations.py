"""Locations: list, add, edit (which is also how a location moves to another partner), (de)activate,
delete."""

from __future__ import annotations

from contextlib import suppress
from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from franchise_platform.flows import locations as location_flows
from franchise_platform.network import selectors
from franchise_platform.network.errors import DeleteRefused, InputRejected
from franchise_platform.network.forms import LocationForm, show_problems
from franchise_platform.network.models import Partner

from ..access import actor, page, panel_view


@panel_view()
def location_list(request: HttpRequest) -> HttpResponse:
    context = {
        "locations": selectors.location_list(),
        "has_partners": selectors.partner_list().exists(),
    }
    return page(request, "panel/locations/list.html", context)


@panel_view(edit=True)
def location_create(request: HttpRequest) -> HttpResponse:
    partners = selectors.partner_choices()
    initial = {}
    with suppress(Partner.DoesNotExist, ValueError):
        initial["partner"] = partners.get(pk=UUID(request.GET.get("partner", "")))
    form = LocationForm(request.POST or None, partners=partners, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            location = location_flows.location_create(**actor(request), **form.cleaned_data)
        except InputRejected as exc:
            show_problems(form, exc)
        else:
            messages.success(request, _("Локация «%(name)s» добавлена.") % {"name": location})
            if request.POST.get("then") == "partner":
                return redirect("panel:partner_detail", partner_id=location.partner_id)
            return redirect("panel:location_list")
    return page(
        request,
        "panel/locations/form.html",
        {
            "form": form,
            "location": None,
            "then": request.GET.get("then", ""),
            "has_partners": partners.exists(),
        },
    )


@panel_view(edit=True)
def location_edit(request: HttpRequest, location_id: str) -> HttpResponse:
    location = selectors.location_get(location_id=location_id)
    initial = {"name": location.name, "address": location.address, "partner": location.partner}
    form = LocationForm(
        request.POST or None,
        partners=selectors.partner_choices(keep=location.partner),
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        try:
            location_flows.location_update(
                **actor(request),
                location=location,
                changes=form.cleaned_data,  # type: ignore[arg-type]
            )
        except InputRejected as exc:
            show_problems(form, exc)
        else:
            messages.success(request, _("Локация «%(name)s» сохранена.") % {"name": location})
            return redirect("panel:location_list")
    return page(
        request,
        "panel/locations/form.html",
        {"form": form, "location": location, "has_partners": True},
    )


@require_POST
@panel_view(edit=True)
def location_toggle(request: HttpRequest, location_id: str) -> HttpResponse:
    location = selectors.location_get(location_id=location_id)
    location_flows.location_update(
        **actor(request), location=location, changes={"active": not location.active}
    )
    if location.active:
        messages.success(request, _("Локация «%(name)s» снова активна.") % {"name": location})
    else:
        messages.success(
            request, _("Локация «%(name)s» скрыта из выбора в сделках.") % {"name": location}
        )
    return redirect("panel:location_list")


@require_POST
@panel_view(edit=True)
def location_delete(request: HttpRequest, location_id: str) -> HttpResponse:
    location = selectors.location_get(location_id=location_id)
    try:
        location_flows.location_delete(**actor(request), location=location)
    except DeleteRefused as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("Локация удалена."))
    return redirect("panel:location_list")
