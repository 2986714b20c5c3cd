"""Moving leads through the CRM's pipeline stages (issue 15, item 5).

The owner maps events (prepayment paid, fully paid, refunded, settlement failed) to a stage of
each pipeline, read from the CRM and kept in `CrmPipeline` rows (refreshable). The flows raise
an event through `lead_stage_event_queue` (crm_sync/services.py): one outbox message per event
and deal. At send time the lead and its pipeline are read again, and the lead moves only
forward: never when it is already at or past the target (a manager moved it on by hand), nor
out of a closed stage (142 won, 143 lost). Every call goes through the account's rate limiter.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_connectors.base import (
    STAGE_LOST,
    STAGE_UNSORTED,
    CrmConnector,
    FieldMap,
    Pipeline,
    StageMove,
)
from franchise_platform.network.models import Location
from franchise_platform.network.selectors import network_settings_get
from franchise_platform.payments.models import Deal, DealStatus
from franchise_platform.security.audit import audit_record

from .connectors import connector_for
from .models import CrmConnection, CrmPipeline, OutboxMessage, StageEvent
from .outbox import LOOK_UP, _LookUp, outbox_lead_stage_enqueue

logger = logging.getLogger(__name__)


class StageMapRejected(ValueError):
    """The mapping cannot be used; `problems` maps a form field to a message in Russian."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


def _stages_json(pipeline: Pipeline) -> list[dict[str, Any]]:
    return [
        {"id": s.stage_id, "name": s.name, "sort": s.sort, "kind": s.kind} for s in pipeline.stages
    ]


def crm_pipelines_store(*, connection: CrmConnection, pipelines: list[Pipeline]) -> int:
    """Keep these pipelines (as just read) with the owner's mapping; a mapped stage that is
    gone is unmapped, a pipeline that is gone is dropped. Returns how many are kept."""
    with transaction.atomic():
        row = CrmConnection.objects.select_for_update().get(pk=connection.pk)
        kept: set[str] = set()
        for pipeline in pipelines:
            stored, _created = CrmPipeline.objects.get_or_create(
                connection=row, pipeline_id=pipeline.pipeline_id
            )
            movable = {s.stage_id for s in pipeline.stages if s.kind != STAGE_UNSORTED}
            stored.name = pipeline.name[:300]
            stored.sort = pipeline.sort
            stored.is_archive = pipeline.is_archive
            stored.stages = _stages_json(pipeline)
            stored.stage_map = {e: s for e, s in stored.stage_map.items() if s in movable}
            if stored.delivered_stages is not None:
                stored.delivered_stages = [s for s in stored.delivered_stages if s in movable]
            stored.save()
            kept.add(pipeline.pipeline_id)
        CrmPipeline.objects.filter(connection=row).exclude(pipeline_id__in=kept).delete()
        row.pipelines_read_at = timezone.now()
        row.mapped_stage_events = _mapped_events(row)
        row.save(update_fields=["pipelines_read_at", "mapped_stage_events", "updated_at"])
    connection.mapped_stage_events = row.mapped_stage_events
    return len(kept)


def _mapped_events(connection: CrmConnection) -> list[str]:
    maps = CrmPipeline.objects.filter(connection=connection).values_list("stage_map", flat=True)
    return sorted({event for stage_map in maps for event in stage_map})


def crm_pipelines_refresh(*, connection: CrmConnection) -> int:
    """Read the account's pipelines now (the panel's «Обновить воронки»). Raises CrmError."""

    connector = connector_for(connection)
    if not connector.supports_pipelines:
        return crm_pipelines_store(connection=connection, pipelines=[])
    return crm_pipelines_store(connection=connection, pipelines=connector.read_pipelines())


def _network_delivered_ids() -> set[str]:
    return {str(s) for s in network_settings_get().delivered_status_ids or []}


def delivered_stage_choices(pipeline: CrmPipeline) -> list[tuple[str, str]]:
    """The stages of a pipeline that may count as delivered: all but the inbox and the lost
    one, in the pipeline's order, as (id, name)."""
    return [
        (str(s.get("id")), str(s.get("name") or s.get("id")))
        for s in pipeline.stages
        if s.get("kind") not in (STAGE_UNSORTED, STAGE_LOST)
    ]


def pipeline_delivered_stages(pipeline: CrmPipeline) -> list[str]:
    """This pipeline's delivered stages as they apply now: the owner's choice, else those of
    the network's `delivered_status_ids` (142 by default) that the pipeline has."""
    if pipeline.delivered_stages is not None:
        return [str(s) for s in pipeline.delivered_stages]
    default = _network_delivered_ids()
    return [stage for stage, _name in delivered_stage_choices(pipeline) if stage in default]


def lead_in_delivered_stage(*, connection: CrmConnection, pipeline_id: str, stage_id: str) -> bool:
    """Whether a lead at `stage_id` of `pipeline_id` counts as delivered: the pipeline's own
    choice when the owner made one, else the network's `delivered_status_ids`."""
    if not stage_id:
        return False
    chosen = (
        CrmPipeline.objects.filter(connection=connection, pipeline_id=pipeline_id)
        .values_list("delivered_stages", flat=True)
        .first()
        if pipeline_id
        else None
    )
    if chosen is not None:
        return stage_id in {str(s) for s in chosen}
    return stage_id in _network_delivered_ids()


def _stage_names(pipeline: CrmPipeline) -> str:
    names = dict(delivered_stage_choices(pipeline))
    return ", ".join(names.get(s, s) for s in pipeline_delivered_stages(pipeline))


def crm_stage_map_set(
    *,
    connection: CrmConnection,
    pipeline_id: str,
    stages: dict[str, str],
    location_id: str = "",
    delivered: list[str] | None = None,
    actor: str = "",
    ip_address: str | None = None,
) -> CrmPipeline:
    """Set one pipeline's event → stage mapping (an empty stage unmaps the event), the
    location of its leads ("" for none) and, unless `delivered` is None, the stages that mean
    "delivered" (a choice equal to the network's default keeps following that default).
    Raises StageMapRejected, changing nothing, when a stage is not one of that pipeline's (or
    is its inbox, or the lost stage for "delivered") or the location is unknown."""
    with transaction.atomic():
        pipeline = CrmPipeline.objects.select_for_update().get(
            connection=connection, pipeline_id=str(pipeline_id)
        )
        movable = {str(s.get("id")) for s in pipeline.stages if s.get("kind") != STAGE_UNSORTED}
        problems: dict[str, str] = {}
        new_map: dict[str, str] = {}
        for event, stage in stages.items():
            if event not in StageEvent.values:
                problems[event] = _("Неизвестное событие.")
            elif stage and stage not in movable:
                problems[event] = _("Выберите этап этой воронки.")
            elif stage:
                new_map[event] = stage
        location = None
        if location_id:
            location = (
                Location.objects.filter(pk=location_id).first() if _is_uuid(location_id) else None
            )
            if location is None:
                problems["location"] = _("Выберите локацию из списка.")
        new_delivered = pipeline.delivered_stages
        if delivered is not None:
            allowed = [stage for stage, _name in delivered_stage_choices(pipeline)]
            if any(str(stage) not in allowed for stage in delivered):
                problems["delivered"] = _("Выберите этапы этой воронки.")
            chosen = [stage for stage in allowed if stage in {str(s) for s in delivered}]
            default = [stage for stage in allowed if stage in _network_delivered_ids()]
            # Equal to the network's default: keep following it (the API may change it later).
            new_delivered = None if chosen == default else chosen
        if problems:
            raise StageMapRejected(problems)
        changes: dict[str, tuple[Any, Any]] = {
            f"stage.{e}": (pipeline.stage_map.get(e), new_map.get(e))
            for e in StageEvent.values
            if pipeline.stage_map.get(e) != new_map.get(e)
        }
        if pipeline.location_id != (location.pk if location else None):
            changes["location"] = (
                str(pipeline.location_id) if pipeline.location_id else None,
                str(location.pk) if location else None,
            )
        if new_delivered != pipeline.delivered_stages:
            after = CrmPipeline(stages=pipeline.stages, delivered_stages=new_delivered)
            changes["delivered_stages"] = (_stage_names(pipeline), _stage_names(after))
        pipeline.stage_map = new_map
        pipeline.location = location
        pipeline.delivered_stages = new_delivered
        pipeline.save(update_fields=["stage_map", "location", "delivered_stages"])
        events = _mapped_events(connection)
        CrmConnection.objects.filter(pk=connection.pk).update(mapped_stage_events=events)
        connection.mapped_stage_events = events
        if changes:
            audit_record(
                actor=actor,
                action="crm.stage_map",
                obj=pipeline,
                changes=changes,
                ip_address=ip_address,
            )
    return pipeline


def crm_location_source_set(
    *,
    connection: CrmConnection,
    from_pipeline: bool,
    actor: str = "",
    ip_address: str | None = None,
) -> None:
    """Whether a pipeline's location wins over the lead's select field (else: fills it in)."""
    row = CrmConnection.objects.get(pk=connection.pk)
    if row.location_from_pipeline == from_pipeline:
        return
    CrmConnection.objects.filter(pk=row.pk).update(location_from_pipeline=from_pipeline)
    audit_record(
        actor=actor,
        action="crm.location_source",
        obj=row,
        changes={"location_from_pipeline": (row.location_from_pipeline, from_pipeline)},
        ip_address=ip_address,
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def pipeline_location_for(*, connection: CrmConnection, pipeline_id: str) -> str | None:
    """The location mapped to the lead's pipeline (its pk as a string), if any."""
    if not pipeline_id:
        return None
    location_id = (
        CrmPipeline.objects.filter(connection=connection, pipeline_id=pipeline_id)
        .values_list("location_id", flat=True)
        .first()
    )
    return str(location_id) if location_id else None


def lead_location_choose(
    *, connection: CrmConnection, field_location: str | None, pipeline_id: str
) -> str | None:
    """The select field's location, or the pipeline's when the field is empty or the network
    takes locations from pipelines."""
    from_pipeline = pipeline_location_for(connection=connection, pipeline_id=pipeline_id)
    if from_pipeline and (connection.location_from_pipeline or not field_location):
        return from_pipeline
    return field_location


def lead_stage_event_queue(
    *, deal: Deal, event: str, target: CrmConnection | _LookUp | None = LOOK_UP
) -> OutboxMessage | None:
    """Raise `event` for the deal inside the caller's transaction; see outbox_lead_stage_enqueue."""
    return outbox_lead_stage_enqueue(deal=deal, event=event, target=target)


def lead_stage_events_for_payment(
    *, deal: Deal, target: CrmConnection | _LookUp | None = LOOK_UP
) -> None:
    """After a payment was applied: fully paid, or the first money in (the prepayment)."""
    if deal.status in (DealStatus.PAID, DealStatus.OVERPAID):
        lead_stage_event_queue(deal=deal, event=StageEvent.FULLY_PAID, target=target)
    elif deal.paid > 0:
        lead_stage_event_queue(deal=deal, event=StageEvent.PREPAYMENT_PAID, target=target)


def lead_stage_deliver(
    *,
    message: OutboxMessage,
    connection: CrmConnection,
    connector: CrmConnector,
    fields: FieldMap,
) -> str:
    """Move the lead forward to the furthest stage its events map to in its pipeline as it is
    now; returns the stage id moved to, "" when there is nothing to do."""
    assert message.deal is not None
    if not connector.supports_pipelines:
        return ""
    lead_id = message.deal.crm_deal_id
    events = [e for e in message.payload.get("events", []) if e in StageEvent.values]
    lead = connector.read_lead(lead_id, fields)
    mapping = CrmPipeline.objects.filter(
        connection=connection, pipeline_id=lead.pipeline_id
    ).first()
    stage_map: dict[str, object] = mapping.stage_map if mapping else {}
    targets = {str(stage_map[e]) for e in events if e in stage_map}
    if not lead.pipeline_id or not targets:
        logger.info("lead %s: no stage mapped in its pipeline for %s", lead_id, events)
        return ""
    pipeline = connector.read_pipeline(lead.pipeline_id)
    forward = [t for t in targets if pipeline.is_before(lead.stage_id, t)]
    if not forward:
        # Already there or further (moved by a manager), closed, or the stage is gone.
        logger.info("lead %s stays at stage %s", lead_id, lead.stage_id)
        return ""
    position = {s.stage_id: n for n, s in enumerate(pipeline.stages)}
    stage = max(forward, key=position.__getitem__)
    connector.move_lead(StageMove(lead_id=lead_id, pipeline_id=lead.pipeline_id, stage_id=stage))
    return stage
