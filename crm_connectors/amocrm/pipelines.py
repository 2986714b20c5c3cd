"""amoCRM lead pipelines and their stages ("statuses") as the platform's frozen dataclasses.

``GET /api/v4/leads/pipelines`` answers every pipeline with ``_embedded.statuses``; a status has
``id``, ``name``, ``sort``, ``type`` (1 = the "unsorted" inbox) and the system ids 142 (won) and
143 (lost), shared by every pipeline (spec §2.1). Ids become strings at this boundary.
"""

from __future__ import annotations

from typing import Any

from crm_connectors.base import (
    STAGE_LOST,
    STAGE_OPEN,
    STAGE_UNSORTED,
    STAGE_WON,
    Pipeline,
    PipelineStage,
)
from crm_connectors.errors import CrmUnavailable

PIPELINES_PATH = "/api/v4/leads/pipelines"
WON_STATUS_ID = 142
LOST_STATUS_ID = 143
UNSORTED_TYPE = 1


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _stage(raw: object) -> PipelineStage | None:
    if not isinstance(raw, dict):
        return None
    stage_id, sort = _int(raw.get("id")), _int(raw.get("sort"))
    if stage_id is None or stage_id <= 0 or sort is None:
        return None
    if stage_id == WON_STATUS_ID:
        kind = STAGE_WON
    elif stage_id == LOST_STATUS_ID:
        kind = STAGE_LOST
    elif raw.get("type") == UNSORTED_TYPE:
        kind = STAGE_UNSORTED
    else:
        kind = STAGE_OPEN
    name = raw.get("name")
    return PipelineStage(
        stage_id=str(stage_id), name=name if isinstance(name, str) else "", sort=sort, kind=kind
    )


def pipeline_from_api(raw: object) -> Pipeline:
    """One pipeline of the API's answer; an answer without an id is unusable (try later)."""
    pipeline_id = _int(raw.get("id")) if isinstance(raw, dict) else None
    if not isinstance(raw, dict) or pipeline_id is None or pipeline_id <= 0:
        raise CrmUnavailable("amoCRM answered a pipeline without an id", code="bad_response")
    embedded = raw.get("_embedded")
    statuses: Any = embedded.get("statuses") if isinstance(embedded, dict) else None
    stages = [s for s in (_stage(item) for item in statuses or []) if s is not None]
    name = raw.get("name")
    return Pipeline(
        pipeline_id=str(pipeline_id),
        name=name if isinstance(name, str) else "",
        sort=_int(raw.get("sort")) or 0,
        stages=tuple(stages),
        is_main=raw.get("is_main") is True,
        is_archive=raw.get("is_archive") is True,
    )


def pipelines_from_api(data: object) -> list[Pipeline]:
    """The list answer (204/None: an account without pipelines, which amoCRM never has)."""
    embedded = data.get("_embedded") if isinstance(data, dict) else None
    items = embedded.get("pipelines") if isinstance(embedded, dict) else None
    if data is not None and not isinstance(items, list):
        raise CrmUnavailable("amoCRM answered pipelines in an unknown shape", code="bad_response")
    pipelines = [pipeline_from_api(item) for item in items or []]
    return sorted(pipelines, key=lambda p: (p.sort, p.pipeline_id))
