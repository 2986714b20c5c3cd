"""/panel/integrations/ «Этапы воронок»: the account's pipelines read from amoCRM (refreshable),
and per pipeline which stage a lead moves to on each event, which location its leads get and
which stages mean the service was delivered (amoCRM's «Успешно реализовано» by default).
Owners and admins change them; viewers see them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from crm_connectors.base import STAGE_UNSORTED
from crm_connectors.errors import CrmError
from franchise_platform.crm_sync.models import CrmConnection, CrmPipeline, StageEvent
from franchise_platform.crm_sync.stages import (
    StageMapRejected,
    crm_location_source_set,
    crm_pipelines_refresh,
    crm_stage_map_set,
    delivered_stage_choices,
    pipeline_delivered_stages,
)
from franchise_platform.network.models import Location

from ..access import actor, panel_view
from ..context import crm_title_of
from ..selectors import crm_connection_get

STAGES_ANCHOR = "#stages"
DELIVERED_SHOWN = "delivered_shown"


class CrmStageMapForm(forms.Form):
    """One pipeline: an event → one of its stages (or none), and the location of its leads."""

    def __init__(self, *args: Any, pipeline: CrmPipeline, **kwargs: Any) -> None:
        kwargs["prefix"] = f"p{pipeline.pipeline_id}"  # several pipelines' forms on one page
        super().__init__(*args, **kwargs)
        self.pipeline = pipeline
        stages = [("", _("— не двигать —"))] + [
            (str(s.get("id")), str(s.get("name") or s.get("id")))
            for s in pipeline.stages
            if s.get("kind") != STAGE_UNSORTED
        ]
        for event in StageEvent:
            self.fields[event.value] = forms.ChoiceField(
                label=event.label, choices=stages, required=False
            )
        locations = [("", _("— из поля «Локация» —"))] + [
            (str(loc.pk), loc.name) for loc in Location.objects.order_by("name")
        ]
        self.fields["location"] = forms.ChoiceField(
            label=gettext_lazy("Локация сделок этой воронки"), choices=locations, required=False
        )
        self.fields["delivered"] = forms.MultipleChoiceField(
            label=gettext_lazy("Услуга оказана, когда сделка на этапе"),
            help_text=gettext_lazy(
                "Сделка на одном из отмеченных этапов считается оказанной: платформа отправит "
                "итоговые чеки. Не отмечено ничего — только по кнопке «Услуга оказана»."
            ),
            choices=delivered_stage_choices(pipeline),
            required=False,
            widget=forms.CheckboxSelectMultiple,
        )

    @classmethod
    def for_pipeline(cls, pipeline: CrmPipeline) -> CrmStageMapForm:
        initial: dict[str, Any] = dict(pipeline.stage_map)
        initial["location"] = str(pipeline.location_id) if pipeline.location_id else ""
        initial["delivered"] = pipeline_delivered_stages(pipeline)
        return cls(pipeline=pipeline, initial=initial)

    def event_fields(self) -> list[forms.BoundField]:
        """Every field but the delivered stages' checkboxes (laid out on their own)."""
        return [self[name] for name in self.fields if name != "delivered"]


def _stage_name(pipeline: CrmPipeline, stage_id: str | None) -> str:
    for stage in pipeline.stages:
        if str(stage.get("id")) == stage_id:
            return str(stage.get("name") or stage_id)
    return ""


def stages_context(
    connection: CrmConnection | None, bound: CrmStageMapForm | None = None
) -> dict[str, Any]:
    """What the «Этапы воронок» card shows: each pipeline with its form and its mapping."""
    if connection is None:
        return {"pipelines": []}
    rows = []
    for pipeline in CrmPipeline.objects.filter(connection=connection).select_related("location"):
        form = (
            bound
            if bound is not None and bound.pipeline.pk == pipeline.pk
            else CrmStageMapForm.for_pipeline(pipeline)
        )
        mapped = [
            (event.label, _stage_name(pipeline, pipeline.stage_map.get(event.value)))
            for event in StageEvent
        ]
        delivered = [_stage_name(pipeline, s) for s in pipeline_delivered_stages(pipeline)]
        rows.append({"pipeline": pipeline, "form": form, "mapped": mapped, "delivered": delivered})
    return {"pipelines": rows, "pipelines_read_at": connection.pipelines_read_at}


def _back() -> HttpResponse:
    response = redirect("panel:integrations")
    response["Location"] += STAGES_ANCHOR
    return response


@require_POST
@panel_view(edit=True)
def crm_pipelines_refresh_view(request: HttpRequest) -> HttpResponse:
    connection = crm_connection_get()
    if connection is None:
        messages.error(request, _("Сначала подключите %(crm)s.") % _crm_named(request))
        return _back()
    try:
        count = crm_pipelines_refresh(connection=connection)
    except CrmError:
        messages.error(request, _("amoCRM не ответила: воронки не обновлены, попробуйте позже."))
        return _back()
    messages.success(request, _("Воронки обновлены из amoCRM: %(n)s.") % {"n": count})
    return _back()


@require_POST
@panel_view(edit=True)
def crm_stage_map_view(request: HttpRequest, pipeline_id: str) -> HttpResponse:
    # local: import cycle: views.integrations imports this module
    from .integrations import _render

    connection = crm_connection_get()
    if connection is None:
        messages.error(request, _("Сначала подключите %(crm)s.") % _crm_named(request))
        return _back()
    pipeline = CrmPipeline.objects.get(connection=connection, pipeline_id=pipeline_id)
    form = CrmStageMapForm(request.POST, pipeline=pipeline)
    if form.is_valid():
        data = form.cleaned_data
        try:
            crm_stage_map_set(
                connection=connection,
                pipeline_id=pipeline.pipeline_id,
                stages={event: data.get(event) or "" for event in StageEvent.values},
                location_id=data.get("location") or "",
                # Only a form that showed the checkboxes speaks for them (an unticked box
                # sends nothing, so their absence alone would clear the choice).
                delivered=list(data.get("delivered") or [])
                if f"{form.prefix}-{DELIVERED_SHOWN}" in request.POST
                else None,
                **actor(request),
            )
        except StageMapRejected as exc:
            for name, problem in exc.problems.items():
                form.add_error(name if name in form.fields else None, problem)
        else:
            messages.success(
                request, _("Этапы воронки «%(name)s» сохранены.") % {"name": pipeline.name}
            )
            return _back()
    return _render(request, status=400, stage_form=form)


@require_POST
@panel_view(edit=True)
def crm_location_source_view(request: HttpRequest) -> HttpResponse:
    connection = crm_connection_get()
    if connection is None:
        messages.error(request, _("Сначала подключите %(crm)s.") % _crm_named(request))
        return _back()
    from_pipeline = request.POST.get("location_from_pipeline") == "1"
    crm_location_source_set(connection=connection, from_pipeline=from_pipeline, **actor(request))
    messages.success(
        request,
        _("Локация сделки теперь берётся из воронки.")
        if from_pipeline
        else _("Локация сделки берётся из поля «Локация», воронка — если поле пустое."),
    )
    return _back()


def _crm_named(request: HttpRequest) -> dict[str, str]:
    """The network's CRM for a message's ``%(crm)s``."""
    return {"crm": crm_title_of(getattr(getattr(request, "tenant", None), "crm", ""))}
