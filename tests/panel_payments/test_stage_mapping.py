"""/panel/integrations/ «Этапы воронок»: pipelines refreshed from amoCRM, a stage per event and a
location per pipeline — owners and admins change them, viewers only see them."""

from __future__ import annotations

import pytest

from crm_connectors.base import Pipeline, PipelineStage
from franchise_platform.crm_sync.models import CrmConnection, CrmPipeline
from franchise_platform.crm_sync.stages import crm_pipelines_store
from franchise_platform.security.models import AuditEntry
from tests.factories import LocationFactory

from .conftest import crm_connection

pytestmark = pytest.mark.django_db

PIPELINE = Pipeline(
    pipeline_id="5551",
    name="Воронка Казань",
    sort=1,
    is_main=True,
    stages=(
        PipelineStage("70", "Неразобранное", 10, "unsorted"),
        PipelineStage("71", "Заявка", 20),
        PipelineStage("72", "Предоплата получена", 30),
        PipelineStage("73", "Оплачено", 40),
        PipelineStage("142", "Успешно реализовано", 10000, "won"),
        PipelineStage("143", "Закрыто и не реализовано", 11000, "lost"),
    ),
)
URL = "/panel/integrations/amocrm/pipelines/5551/"
GOOD = {"p5551-prepayment_paid": "72", "p5551-fully_paid": "73", "p5551-refunded": "143"}


@pytest.fixture
def crm(in_network):
    connection = crm_connection()
    crm_pipelines_store(connection=connection, pipelines=[PIPELINE])
    return connection


def test_the_page_shows_each_pipeline_with_a_stage_choice_per_event_in_russian(crm, owner):
    page = owner.get("/panel/integrations/").content.decode()

    assert "Этапы воронок" in page and "Воронка Казань" in page
    for label in ("Внесена предоплата", "Оплачено полностью", "Оформлен возврат"):
        assert label in page
    assert "Предоплата получена" in page and "— не двигать —" in page
    assert 'value="70"' not in page  # the inbox is never a target
    assert "Обновить воронки" in page


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_an_editor_maps_stages_and_a_location(in_network, crm, who):
    location = LocationFactory()
    client = getattr(in_network, who).browser_client()

    response = client.post(URL, {**GOOD, "p5551-location": str(location.pk)})

    assert response.status_code == 302
    assert response["Location"].endswith("/panel/integrations/#stages")
    stored = CrmPipeline.objects.get(pipeline_id="5551")
    assert stored.stage_map == {"prepayment_paid": "72", "fully_paid": "73", "refunded": "143"}
    assert stored.location_id == location.pk
    assert sorted(CrmConnection.objects.get(pk=crm.pk).mapped_stage_events) == [
        "fully_paid",
        "prepayment_paid",
        "refunded",
    ]
    entry = AuditEntry.objects.get(action="crm.stage_map")
    assert entry.changes["stage.fully_paid"] == [None, "73"]


@pytest.mark.parametrize(
    "bad",
    [
        {"p5551-fully_paid": "70"},  # the inbox
        {"p5551-fully_paid": "999"},  # not a stage of this pipeline
        {"p5551-fully_paid": "<script>"},
        {"p5551-location": "00000000-0000-0000-0000-000000000000"},
    ],
)
def test_a_bad_choice_is_a_russian_error_and_changes_nothing(crm, owner, bad):
    response = owner.post(URL, {**GOOD, **bad})

    assert response.status_code == 400
    assert "Выберите корректный вариант" in response.content.decode()
    assert CrmPipeline.objects.get(pipeline_id="5551").stage_map == {}
    assert not AuditEntry.objects.filter(action="crm.stage_map").exists()


def test_an_unknown_pipeline_is_the_panels_404(crm, owner):
    assert owner.post("/panel/integrations/amocrm/pipelines/999/", GOOD).status_code == 404


def test_a_viewer_sees_the_mapping_but_cannot_change_it(in_network, crm, owner):
    owner.post(URL, GOOD)
    viewer = in_network.viewer.browser_client()

    page = viewer.get("/panel/integrations/").content.decode()
    refused = viewer.post(URL, {"p5551-fully_paid": "72"})
    refresh = viewer.post("/panel/integrations/amocrm/pipelines/refresh/")
    source = viewer.post(
        "/panel/integrations/amocrm/pipelines/location-source/", {"location_from_pipeline": "1"}
    )

    assert "Воронка Казань" in page and "Оплачено" in page
    assert "Сохранить этапы" not in page and "Обновить воронки" not in page
    assert (refused.status_code, refresh.status_code, source.status_code) == (403, 403, 403)
    assert CrmPipeline.objects.get(pipeline_id="5551").stage_map["fully_paid"] == "73"
    assert CrmConnection.objects.get(pk=crm.pk).location_from_pipeline is False


def test_the_location_source_switch(crm, owner):
    on = owner.post(
        "/panel/integrations/amocrm/pipelines/location-source/", {"location_from_pipeline": "1"}
    )
    assert on.status_code == 302
    assert CrmConnection.objects.get(pk=crm.pk).location_from_pipeline is True
    owner.post("/panel/integrations/amocrm/pipelines/location-source/", {})
    assert CrmConnection.objects.get(pk=crm.pk).location_from_pipeline is False
    assert AuditEntry.objects.filter(action="crm.location_source").count() == 2


def test_refresh_when_amocrm_does_not_answer_says_so_and_keeps_the_pipelines(
    crm, owner, monkeypatch
):
    from crm_connectors.errors import CrmUnavailable
    from franchise_platform.panel.views import stages

    def down(*, connection):
        raise CrmUnavailable("down")

    monkeypatch.setattr(stages, "crm_pipelines_refresh", down)

    response = owner.post("/panel/integrations/amocrm/pipelines/refresh/", follow=True)

    assert "amoCRM не ответила: воронки не обновлены" in response.content.decode()
    assert CrmPipeline.objects.filter(pipeline_id="5551").exists()
