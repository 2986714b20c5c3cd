"""Pipelines and stages through AmoCrmConnector, against the fake amoCRM over HTTP."""

from __future__ import annotations

import time

import httpx
import pytest

from crm_connectors.amocrm.connector import AmoCrmConnector
from crm_connectors.base import (
    STAGE_LOST,
    STAGE_OPEN,
    STAGE_UNSORTED,
    STAGE_WON,
    FieldMap,
    LocationOption,
    Pipeline,
    PipelineStage,
    StageMove,
)
from crm_connectors.dummy.connector import DummyCrmConnector, DummyCrmStore
from crm_connectors.errors import CrmNotFound, CrmValidationError
from tests.fakes.amocrm import FakeAmoCrm


@pytest.fixture
def fields(connector: AmoCrmConnector) -> FieldMap:
    return connector.ensure_fields([LocationOption("loc-1", "Квест «Подземелье»")], None)


def test_read_pipelines_gives_every_pipeline_with_ordered_stages_and_string_ids(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    branch = fake.add_pipeline(account_id, "Филиал на Баумана", ["Заявка", "Бронь"])

    pipelines = connector.read_pipelines()

    assert [p.name for p in pipelines] == ["Воронка", "Филиал на Баумана"]
    main, second = pipelines
    assert main.is_main and not second.is_main
    assert second.pipeline_id == str(branch["id"])
    assert [s.name for s in second.stages] == [
        "Неразобранное",
        "Заявка",
        "Бронь",
        "Успешно реализовано",
        "Закрыто и не реализовано",
    ]
    assert [s.kind for s in second.stages] == [
        STAGE_UNSORTED,
        STAGE_OPEN,
        STAGE_OPEN,
        STAGE_WON,
        STAGE_LOST,
    ]
    assert all(isinstance(s.stage_id, str) for s in second.stages)
    assert second.stages[-2].stage_id == "142" and second.stages[-1].stage_id == "143"


def test_read_one_pipeline_and_a_missing_one(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    main_id = str(fake.main_pipeline_id(account_id))

    assert connector.read_pipeline(main_id).pipeline_id == main_id
    with pytest.raises(CrmNotFound):
        connector.read_pipeline("999")
    with pytest.raises(CrmValidationError):
        connector.read_pipeline("1/../../account")  # never a path of its choosing


def test_read_lead_tells_its_pipeline_and_stage(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector, fields: FieldMap
) -> None:
    main_id = fake.main_pipeline_id(account_id)
    stage = fake.stage_id(account_id, main_id, "Переговоры")
    fake.set_lead(account_id, 7001, 5000, status_id=stage)

    lead = connector.read_lead(7001, fields)

    assert (lead.pipeline_id, lead.stage_id) == (str(main_id), str(stage))


def test_move_lead_sets_status_and_pipeline(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    main_id = fake.main_pipeline_id(account_id)
    fake.set_lead(account_id, 7001, 5000)
    target = fake.stage_id(account_id, main_id, "Принимают решение")

    connector.move_lead(StageMove(lead_id=7001, pipeline_id=str(main_id), stage_id=str(target)))

    assert fake.lead(account_id, 7001)["status_id"] == target
    patch = [r for r in fake.api_requests(account_id) if r.method == "PATCH"]
    assert [r.path for r in patch] == ["/api/v4/leads/7001"]


def test_the_fake_refuses_a_stage_of_another_pipeline_and_the_inbox(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    main_id = fake.main_pipeline_id(account_id)
    other = fake.add_pipeline(account_id, "Филиал", ["Заявка"])
    foreign_stage = fake.stage_id(account_id, other["id"], "Заявка")
    inbox = fake.stage_id(account_id, main_id, "Неразобранное")
    fake.set_lead(account_id, 7001, 5000)
    before = fake.lead(account_id, 7001)["status_id"]

    for stage in (foreign_stage, inbox):
        with pytest.raises(CrmValidationError):
            connector.move_lead(StageMove(7001, str(main_id), str(stage)))
    assert fake.lead(account_id, 7001)["status_id"] == before


def test_the_fake_validates_a_raw_patch_of_status_and_pipeline(
    fake: FakeAmoCrm, account_id: int
) -> None:
    main_id = fake.main_pipeline_id(account_id)
    fake.set_lead(account_id, 7001, 5000)
    token = fake.issue_tokens(account_id)["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{fake.base_url}/api/v4/leads/7001"

    for body in ({"pipeline_id": main_id}, {"status_id": "142"}, {"status_id": 1}):
        assert httpx.patch(url, json=body, headers=headers).status_code == 400
    assert httpx.patch(url, json={"status_id": 142}, headers=headers).status_code == 200
    assert fake.lead(account_id, 7001)["status_id"] == 142
    assert (
        httpx.post(f"{fake.base_url}/api/v4/leads/pipelines", json=[], headers=headers).status_code
        == 405
    )


def test_pipeline_reads_keep_to_seven_requests_a_second(
    fake: FakeAmoCrm,
    account_id: int,
    make_connector: object,
    redis_client: object,
    redis_prefix: str,
) -> None:
    from crm_connectors.amocrm.ratelimit import RedisRateLimiter

    limiter = RedisRateLimiter(redis_client, rate=7, prefix=redis_prefix)  # type: ignore[arg-type]
    connector = make_connector(limiter=limiter)  # type: ignore[operator]
    started = time.monotonic()
    for _ in range(15):
        connector.read_pipelines()

    assert fake.max_rps_seen(account_id) <= 7
    assert time.monotonic() - started >= 1.0
    assert all(r.status == 200 for r in fake.api_requests(account_id))


def test_pipeline_order_and_forward_rule() -> None:
    pipeline = Pipeline(
        pipeline_id="1",
        name="Воронка",
        sort=1,
        stages=(
            PipelineStage("143", "Закрыто", 11000, STAGE_LOST),
            PipelineStage("20", "Предоплата", 20),
            PipelineStage("10", "Неразобранное", 10, STAGE_UNSORTED),
            PipelineStage("30", "Оплачено", 30),
            PipelineStage("142", "Успешно", 10000, STAGE_WON),
        ),
    )

    assert [s.stage_id for s in pipeline.stages] == ["10", "20", "30", "142", "143"]
    assert pipeline.is_before("20", "30")
    assert not pipeline.is_before("30", "20")  # never backwards
    assert not pipeline.is_before("30", "30")  # already there
    assert not pipeline.is_before("142", "143")  # a closed lead stays closed
    assert not pipeline.is_before("143", "30")
    assert not pipeline.is_before("20", "10")  # never into the inbox
    assert not pipeline.is_before("99", "30")  # a stage this pipeline does not have
    assert pipeline.is_before("30", "142")


def test_dummy_connector_keeps_pipelines_and_moves_leads() -> None:
    from decimal import Decimal

    connector = DummyCrmConnector(store=DummyCrmStore(), account_id=5)
    fields = connector.ensure_fields([], None)
    connector.seed_lead(11, title="Сделка", price=Decimal(100))
    (pipeline,) = connector.read_pipelines()
    lead = connector.read_lead(11, fields)
    assert lead.pipeline_id == pipeline.pipeline_id
    target = pipeline.stages[2]

    connector.move_lead(StageMove(11, pipeline.pipeline_id, target.stage_id))

    assert connector.read_lead(11, fields).stage_id == target.stage_id
    assert connector.read_pipeline(pipeline.pipeline_id) == pipeline
    with pytest.raises(CrmValidationError):
        connector.move_lead(StageMove(11, pipeline.pipeline_id, "nope"))
    with pytest.raises(CrmNotFound):
        connector.read_pipeline("nope")
