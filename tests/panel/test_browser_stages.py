"""The owner maps pipeline events to stages and chooses the delivered stages in a real Chromium;
after saving and reloading the page shows them kept. Screenshots of «Этапы воронок» go under
tests/artifacts/panel/ (desktop and phone width)."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import tenant_context

from crm_connectors.base import Pipeline, PipelineStage
from franchise_platform.crm_sync.models import CrmPipeline
from franchise_platform.crm_sync.stages import crm_pipelines_store
from franchise_platform.security.models import AuditEntry
from tests.panel_payments.conftest import crm_connection
from tests.personas import PersonaNetwork

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

KAZAN = Pipeline(
    pipeline_id="6601",
    name="Казань, квесты",
    sort=1,
    is_main=True,
    stages=(
        PipelineStage("60", "Неразобранное", 10, "unsorted"),
        PipelineStage("61", "Заявка", 20),
        PipelineStage("62", "Предоплата получена", 30),
        PipelineStage("63", "Оплачено", 40),
        PipelineStage("64", "Игра проведена", 50),
        PipelineStage("142", "Успешно реализовано", 10000, "won"),
        PipelineStage("143", "Закрыто и не реализовано", 11000, "lost"),
    ),
)
CERTIFICATES = Pipeline(
    pipeline_id="6602",
    name="Подарочные сертификаты",
    sort=2,
    stages=(
        PipelineStage("70", "Неразобранное", 10, "unsorted"),
        PipelineStage("71", "Заявка", 20),
        PipelineStage("142", "Успешно реализовано", 10000, "won"),
        PipelineStage("143", "Закрыто и не реализовано", 11000, "lost"),
    ),
)


@pytest.fixture(scope="module")
def pipelines(browser_network: PersonaNetwork, django_db_blocker) -> None:
    """The network's amoCRM connection with two pipelines as read from amoCRM (committed, so the
    live server sees them; dropped with the network)."""
    with django_db_blocker.unblock(), tenant_context(browser_network.network):
        connection = crm_connection(account_id=55_501)
        crm_pipelines_store(connection=connection, pipelines=[KAZAN, CERTIFICATES])


def _stored(net: PersonaNetwork, pipeline_id: str) -> CrmPipeline:
    with tenant_context(net.network):
        return CrmPipeline.objects.get(pipeline_id=pipeline_id)


def test_owner_maps_events_and_delivered_stages_and_they_are_kept(pipelines, panel_site, shoot):
    net = panel_site.net
    page = panel_site.new_page()
    panel_site.login(page, net.owner)
    page.goto(panel_site.url("/panel/integrations/#stages"))
    card = page.locator("#pipeline-6601")
    card.wait_for()
    # By default «Успешно реализовано» means delivered; the inbox and the lost stage are not offered.
    assert card.locator("input[name='p6601-delivered'][value='142']").is_checked()
    assert card.locator("input[name='p6601-delivered'][value='60']").count() == 0
    assert card.locator("input[name='p6601-delivered'][value='143']").count() == 0
    shoot(page, "stages-01-default")

    card.locator("select[name='p6601-prepayment_paid']").select_option(label="Предоплата получена")
    card.locator("select[name='p6601-fully_paid']").select_option(label="Оплачено")
    card.locator("select[name='p6601-settlement_failed']").select_option(label="Заявка")
    card.get_by_label("Игра проведена").check()
    card.get_by_label("Успешно реализовано").uncheck()
    card.locator("button:has-text('Сохранить этапы')").click()
    page.wait_for_url(re.compile(r".*/panel/integrations/#stages$"))
    page.wait_for_selector("text=Этапы воронки «Казань, квесты» сохранены.")
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays at the top of the shot
    shoot(page, "stages-02-saved")

    stored = _stored(net, "6601")
    assert stored.stage_map == {
        "prepayment_paid": "62",
        "fully_paid": "63",
        "settlement_failed": "61",
    }
    assert stored.delivered_stages == ["64"]
    assert _stored(net, "6602").delivered_stages is None  # the other pipeline is untouched
    with tenant_context(net.network):
        assert AuditEntry.objects.filter(action="crm.stage_map", actor=net.owner.email).exists()

    page.reload()
    card = page.locator("#pipeline-6601")
    card.wait_for()
    assert card.locator("select[name='p6601-prepayment_paid']").input_value() == "62"
    assert card.locator("select[name='p6601-fully_paid']").input_value() == "63"
    assert card.locator("select[name='p6601-settlement_failed']").input_value() == "61"
    assert card.locator("select[name='p6601-refunded']").input_value() == ""
    assert card.locator("input[name='p6601-delivered'][value='64']").is_checked()
    assert not card.locator("input[name='p6601-delivered'][value='142']").is_checked()
    other = page.locator("#pipeline-6602")
    assert other.locator("input[name='p6602-delivered'][value='142']").is_checked()
    shoot(page, "stages-03-reloaded")
    page.context.close()
