"""/panel/integrations/ «Этапы воронок»: per pipeline, the stages that mean the service was
delivered (amoCRM's «Успешно реализовано», 142, by default) — chosen by owners and admins among
the stages read from amoCRM, audited; a lead reaching one delivers its deal."""

from __future__ import annotations

import re

import pytest

from crm_connectors.base import Pipeline, PipelineStage
from franchise_platform.crm_sync.models import CrmPipeline
from franchise_platform.crm_sync.stages import crm_pipelines_store, lead_in_delivered_stage
from franchise_platform.network.models import NetworkSettings
from franchise_platform.security.models import AuditEntry

from .conftest import crm_connection
from .test_stage_mapping import PIPELINE, URL

pytestmark = pytest.mark.django_db

OTHER = Pipeline(
    pipeline_id="5552",
    name="Воронка Сертификаты",
    sort=2,
    stages=(
        PipelineStage("80", "Неразобранное", 10, "unsorted"),
        PipelineStage("81", "Заявка", 20),
        PipelineStage("142", "Успешно реализовано", 10000, "won"),
        PipelineStage("143", "Закрыто и не реализовано", 11000, "lost"),
    ),
)
SHOWN = {"p5551-delivered_shown": "1"}


@pytest.fixture
def crm(in_network):
    connection = crm_connection()
    crm_pipelines_store(connection=connection, pipelines=[PIPELINE, OTHER])
    return connection


def _delivered(pipeline_id="5551"):
    return CrmPipeline.objects.get(pipeline_id=pipeline_id).delivered_stages


def _in(crm, pipeline_id, stage_id):
    return lead_in_delivered_stage(connection=crm, pipeline_id=pipeline_id, stage_id=stage_id)


def test_by_default_successful_is_ticked_and_only_real_stages_are_offered(crm, owner):
    page = owner.get("/panel/integrations/").content.decode()

    assert "Услуга оказана, когда сделка на этапе" in page
    boxes = dict(
        re.findall(r'<input type="checkbox" name="p5551-delivered" value="(\w+)"([^>]*)>', page)
    )
    assert list(boxes) == ["71", "72", "73", "142"]  # never the inbox nor the lost stage
    assert [value for value, rest in boxes.items() if "checked" in rest] == ["142"]
    assert _in(crm, "5551", "142") and not _in(crm, "5551", "73")


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_an_editor_chooses_this_pipelines_delivered_stages(in_network, crm, who):
    client = getattr(in_network, who).browser_client()

    response = client.post(URL, {**SHOWN, "p5551-delivered": ["73", "142"]})

    assert response.status_code == 302
    assert _delivered() == ["73", "142"]
    assert _in(crm, "5551", "73") and _in(crm, "5551", "142")
    assert not _in(crm, "5552", "81") and _in(crm, "5552", "142")  # the other keeps the default
    entry = AuditEntry.objects.get(action="crm.stage_map")
    assert entry.actor == getattr(in_network, who).email
    assert entry.changes["delivered_stages"] == [
        "Успешно реализовано",
        "Оплачено, Успешно реализовано",
    ]


def test_nothing_ticked_means_no_stage_delivers_in_that_pipeline(crm, owner):
    owner.post(URL, SHOWN)
    assert _delivered() == []
    assert not _in(crm, "5551", "142") and _in(crm, "5552", "142")


def test_choosing_the_default_keeps_following_the_networks_setting(crm, owner):
    owner.post(URL, {**SHOWN, "p5551-delivered": ["142"]})
    assert _delivered() is None
    assert not AuditEntry.objects.filter(action="crm.stage_map").exists()  # nothing changed
    NetworkSettings.objects.update_or_create(pk=1, defaults={"delivered_status_ids": [72]})
    assert _in(crm, "5551", "72") and not _in(crm, "5551", "142")


@pytest.mark.parametrize("bad", ["143", "70", "81", "999", "<script>"])
def test_a_stage_not_offered_is_a_russian_error_and_changes_nothing(crm, owner, bad):
    response = owner.post(URL, {**SHOWN, "p5551-delivered": ["73", bad]})

    assert response.status_code == 400
    assert "Выберите корректный вариант" in response.content.decode()
    assert _delivered() is None
    assert not AuditEntry.objects.filter(action="crm.stage_map").exists()


def test_a_form_without_the_checkboxes_leaves_the_choice_as_it_was(crm, owner):
    owner.post(URL, {**SHOWN, "p5551-delivered": ["73"]})
    owner.post(URL, {"p5551-fully_paid": "73"})  # e.g. a page cached before they existed
    assert _delivered() == ["73"]


def test_a_viewer_sees_the_delivered_stages_but_cannot_change_them(in_network, crm, owner):
    owner.post(URL, {**SHOWN, "p5551-delivered": ["73"]})
    viewer = in_network.viewer.browser_client()

    page = viewer.get("/panel/integrations/").content.decode()
    refused = viewer.post(URL, {**SHOWN, "p5551-delivered": ["142"]})

    assert "Услуга оказана, когда сделка на этапе" in page
    assert 'name="p5551-delivered"' not in page
    assert refused.status_code == 403 and _delivered() == ["73"]


def test_a_stage_gone_from_amocrm_is_dropped_from_the_choice(crm, owner):
    owner.post(URL, {**SHOWN, "p5551-delivered": ["73", "142"]})
    fewer = Pipeline(
        pipeline_id="5551",
        name=PIPELINE.name,
        sort=1,
        stages=tuple(s for s in PIPELINE.stages if s.stage_id != "73"),
    )
    crm_pipelines_store(connection=crm, pipelines=[fewer, OTHER])
    assert _delivered() == ["142"]
