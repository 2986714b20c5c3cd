"""Deal pipelines ("categories") and their stages (spec §4.5) as the platform's dataclasses.

``crm.category.list {entityTypeId: 2}`` names the pipelines (the default one is id 0); each
pipeline's stages come from ``crm.status.list`` with ``ENTITY_ID`` ``DEAL_STAGE`` (pipeline 0) or
``DEAL_STAGE_<id>``. Stage ids are strings (``NEW``, ``C1:WON``; never built, always read).
``SEMANTICS`` ``S`` is won, ``F`` lost, anything else in progress. Bitrix24 has no inbox stage.
"""

from __future__ import annotations

from typing import Any

from crm_connectors.base import STAGE_LOST, STAGE_OPEN, STAGE_WON, Pipeline, PipelineStage
from crm_connectors.errors import CrmUnavailable

DEFAULT_PIPELINE_ID = "0"


def stage_entity_id(pipeline_id: str) -> str:
    return "DEAL_STAGE" if pipeline_id == DEFAULT_PIPELINE_ID else f"DEAL_STAGE_{pipeline_id}"


def _sort(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return 0


def _semantics(raw: dict[str, Any]) -> str:
    extra = raw.get("EXTRA")
    value = extra.get("SEMANTICS") if isinstance(extra, dict) else None
    if isinstance(value, str) and value:
        return {"success": "S", "failure": "F"}.get(value, "P")
    semantics = raw.get("SEMANTICS")
    return semantics if isinstance(semantics, str) else "P"


def stage_of(raw: object) -> PipelineStage | None:
    if not isinstance(raw, dict):
        return None
    stage_id = raw.get("STATUS_ID")
    if not isinstance(stage_id, str) or not stage_id or len(stage_id) > 50:
        return None
    kind = {"S": STAGE_WON, "F": STAGE_LOST}.get(_semantics(raw), STAGE_OPEN)
    name = raw.get("NAME")
    return PipelineStage(
        stage_id=stage_id,
        name=name if isinstance(name, str) else "",
        sort=_sort(raw.get("SORT")),
        kind=kind,
    )


def category_of(raw: object) -> tuple[str, str, int, bool] | None:
    """(pipeline id, name, sort, is default) of one ``crm.category.list`` item."""
    if not isinstance(raw, dict):
        return None
    category_id = raw.get("id")
    if isinstance(category_id, bool) or not isinstance(category_id, int | str):
        return None
    text = str(category_id)
    if not text.isdigit():
        return None
    name = raw.get("name")
    is_default = raw.get("isDefault") in ("Y", True) or text == DEFAULT_PIPELINE_ID
    return text, name if isinstance(name, str) else "", _sort(raw.get("sort")), is_default


def categories_of(result: object) -> list[tuple[str, str, int, bool]]:
    items = result.get("categories") if isinstance(result, dict) else None
    if not isinstance(items, list):
        raise CrmUnavailable(
            "Bitrix24 answered categories in an unknown shape", code="bad_response"
        )
    return [c for c in (category_of(item) for item in items) if c is not None]


def pipeline_of(category: tuple[str, str, int, bool], statuses: list[dict[str, Any]]) -> Pipeline:
    pipeline_id, name, sort, is_default = category
    stages = [s for s in (stage_of(item) for item in statuses) if s is not None]
    return Pipeline(
        pipeline_id=pipeline_id, name=name, sort=sort, stages=tuple(stages), is_main=is_default
    )
