"""Leads moved through pipeline stages: once per event, only forward, never out of 142/143,
within the account's rate limit; the pipeline's location for its leads."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import (
    CrmConnection,
    CrmPipeline,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
)
from franchise_platform.crm_sync.refresh import lead_facts_read
from franchise_platform.crm_sync.services import lead_stage_event_queue
from franchise_platform.crm_sync.stages import (
    StageMapRejected,
    crm_location_source_set,
    crm_pipelines_refresh,
    crm_stage_map_set,
    lead_stage_events_for_payment,
)
from franchise_platform.payments.models import DealStatus
from tests.factories import DealFactory, LocationFactory

from .conftest import outbox_drain

pytestmark = pytest.mark.django_db

LEAD = 8101


@pytest.fixture
def mapped(connected, amo):
    """The main pipeline read and mapped: prepayment → «Переговоры», fully paid → «Принимают
    решение»; a lead of 5000 in «Первичный контакт» and its deal."""
    net, account_id, crm = connected
    main = amo.main_pipeline_id(account_id)
    stage = {
        name: amo.stage_id(account_id, main, name)
        for name in (
            "Первичный контакт",
            "Переговоры",
            "Принимают решение",
            "Согласование договора",
        )
    }
    amo.set_lead(account_id, LEAD, 5000)
    with tenant_context(net.network):
        crm_pipelines_refresh(connection=crm)
        crm_stage_map_set(
            connection=crm,
            pipeline_id=str(main),
            stages={
                "prepayment_paid": str(stage["Переговоры"]),
                "fully_paid": str(stage["Принимают решение"]),
                "refunded": str(stage["Согласование договора"]),
            },
        )
        deal = DealFactory(crm_deal_id=LEAD, total=Decimal("5000"))
    return net, account_id, crm, deal, main, stage


def _raise(net, deal, event):
    with tenant_context(net.network), transaction.atomic():
        return lead_stage_event_queue(deal=deal, event=event)


def _stage_messages(net):
    with tenant_context(net.network):
        return list(OutboxMessage.objects.filter(kind=OutboxKind.LEAD_STAGE))


def _patches(amo, account_id):
    return [
        r
        for r in amo.api_requests(account_id)
        if r.method == "PATCH" and r.path == f"/api/v4/leads/{LEAD}"
    ]


def test_pipelines_are_read_and_kept_with_their_stages(mapped, amo):
    net, account_id, crm, _, main, stage = mapped
    amo.add_pipeline(account_id, "Филиал на Пушкина", ["Заявка"])
    with tenant_context(net.network):
        assert crm_pipelines_refresh(connection=crm) == 2
        kept = list(CrmPipeline.objects.order_by("sort"))
        assert [p.name for p in kept] == ["Воронка", "Филиал на Пушкина"]
        assert kept[0].stage_map["prepayment_paid"] == str(stage["Переговоры"])  # survives
        assert [s["id"] for s in kept[0].stages][-2:] == ["142", "143"]
        assert CrmConnection.objects.get(pk=crm.pk).pipelines_read_at is not None


def test_prepayment_moves_the_lead_once_whatever_the_number_of_raises(mapped, amo):
    net, account_id, _, deal, _, stage = mapped

    first = _raise(net, deal, "prepayment_paid")
    assert _raise(net, deal, "prepayment_paid") is None  # the same event again: nothing queued
    outbox_drain(net.network)

    assert amo.lead(account_id, LEAD)["status_id"] == stage["Переговоры"]
    assert len(_stage_messages(net)) == 1
    with tenant_context(net.network):
        assert OutboxMessage.objects.get(pk=first.pk).external_id == str(stage["Переговоры"])
    # A manager moves the lead back by hand; the event, raised again later, does not move it.
    amo.move_lead_by_hand(account_id, LEAD, stage["Первичный контакт"])
    assert _raise(net, deal, "prepayment_paid") is None
    outbox_drain(net.network)
    assert amo.lead(account_id, LEAD)["status_id"] == stage["Первичный контакт"]
    assert len(_patches(amo, account_id)) == 1


def test_fully_paid_after_prepayment_moves_to_the_next_stage(mapped, amo):
    net, account_id, _, deal, _, stage = mapped
    _raise(net, deal, "prepayment_paid")
    outbox_drain(net.network)

    _raise(net, deal, "fully_paid")
    outbox_drain(net.network)

    assert amo.lead(account_id, LEAD)["status_id"] == stage["Принимают решение"]
    assert [m.status for m in _stage_messages(net)] == [OutboxStatus.SENT] * 2


def test_events_raised_before_a_send_coalesce_into_one_move_to_the_furthest(mapped, amo):
    net, account_id, _, deal, _, stage = mapped

    one = _raise(net, deal, "fully_paid")
    two = _raise(net, deal, "prepayment_paid")
    outbox_drain(net.network)

    assert one.pk == two.pk
    assert amo.lead(account_id, LEAD)["status_id"] == stage["Принимают решение"]
    assert len(_patches(amo, account_id)) == 1


def test_never_backwards_an_earlier_stage_event_after_a_later_one_moves_nothing(mapped, amo):
    net, account_id, _, deal, _, stage = mapped
    _raise(net, deal, "fully_paid")
    outbox_drain(net.network)

    _raise(net, deal, "prepayment_paid")
    outbox_drain(net.network)

    assert amo.lead(account_id, LEAD)["status_id"] == stage["Принимают решение"]
    assert len(_patches(amo, account_id)) == 1
    assert _stage_messages(net)[-1].status == OutboxStatus.SENT


def test_a_lead_the_manager_moved_further_is_left_where_it_is(mapped, amo):
    net, account_id, _, deal, _, stage = mapped
    amo.move_lead_by_hand(account_id, LEAD, stage["Согласование договора"])

    _raise(net, deal, "fully_paid")
    outbox_drain(net.network)

    assert amo.lead(account_id, LEAD)["status_id"] == stage["Согласование договора"]
    assert _patches(amo, account_id) == []


@pytest.mark.parametrize("closed", [142, 143])
def test_a_won_or_lost_lead_is_never_moved(mapped, amo, closed):
    net, account_id, _, deal, _, _ = mapped
    amo.move_lead_by_hand(account_id, LEAD, closed)

    _raise(net, deal, "refunded")
    outbox_drain(net.network)

    assert amo.lead(account_id, LEAD)["status_id"] == closed
    assert _patches(amo, account_id) == []


def test_an_event_no_pipeline_maps_queues_nothing(mapped):
    net, _, _, deal, _, _ = mapped

    assert _raise(net, deal, "settlement_failed") is None
    assert _stage_messages(net) == []


def test_an_unknown_event_is_refused(mapped):
    net, _, _, deal, _, _ = mapped
    with pytest.raises(ValueError):
        _raise(net, deal, "paid_twice")


def test_a_lead_in_another_pipeline_uses_that_pipelines_mapping(mapped, amo):
    net, account_id, crm, deal, _, _ = mapped
    branch = amo.add_pipeline(account_id, "Филиал", ["Заявка", "Предоплата"])
    entry = amo.stage_id(account_id, branch["id"], "Заявка")
    amo.move_lead_by_hand(account_id, LEAD, entry, pipeline_id=branch["id"])
    with tenant_context(net.network):
        crm_pipelines_refresh(connection=crm)

    _raise(net, deal, "prepayment_paid")  # the branch maps nothing: the lead stays
    outbox_drain(net.network)
    assert amo.lead(account_id, LEAD)["status_id"] == entry
    assert _patches(amo, account_id) == []


def test_payment_events_fully_paid_or_the_first_money(mapped, amo):
    net, account_id, _, deal, _, stage = mapped
    with tenant_context(net.network), transaction.atomic():
        deal.paid, deal.status = Decimal("1500"), DealStatus.PARTIALLY_PAID
        lead_stage_events_for_payment(deal=deal)
    outbox_drain(net.network)
    assert amo.lead(account_id, LEAD)["status_id"] == stage["Переговоры"]

    with tenant_context(net.network), transaction.atomic():
        deal.paid, deal.status = Decimal("5000"), DealStatus.PAID
        lead_stage_events_for_payment(deal=deal)
    outbox_drain(net.network)
    assert amo.lead(account_id, LEAD)["status_id"] == stage["Принимают решение"]


def test_moves_of_many_leads_keep_within_the_rate_limit(mapped, amo):
    net, account_id, _, _, _, stage = mapped
    deals = []
    with tenant_context(net.network):
        for n in range(8):
            amo.set_lead(account_id, 8200 + n, 1000)
            deals.append(DealFactory(crm_deal_id=8200 + n, total=Decimal("1000")))
    for deal in deals:
        _raise(net, deal, "fully_paid")

    outbox_drain(net.network)

    for n in range(8):
        assert amo.lead(account_id, 8200 + n)["status_id"] == stage["Принимают решение"]
    assert amo.max_rps_seen(account_id) <= 7


def test_a_mapping_to_a_stage_of_another_pipeline_or_the_inbox_is_refused(mapped, amo):
    net, account_id, crm, _, main, _ = mapped
    branch = amo.add_pipeline(account_id, "Филиал", ["Заявка"])
    with tenant_context(net.network):
        crm_pipelines_refresh(connection=crm)
        before = CrmPipeline.objects.get(pipeline_id=str(main)).stage_map
        foreign = str(amo.stage_id(account_id, branch["id"], "Заявка"))
        inbox = str(amo.stage_id(account_id, main, "Неразобранное"))
        for bad in (foreign, inbox, "1; DROP TABLE"):
            with pytest.raises(StageMapRejected):
                crm_stage_map_set(connection=crm, pipeline_id=str(main), stages={"fully_paid": bad})
        with pytest.raises(StageMapRejected):
            crm_stage_map_set(
                connection=crm, pipeline_id=str(main), stages={}, location_id="not-a-uuid"
            )
        assert CrmPipeline.objects.get(pipeline_id=str(main)).stage_map == before


def test_a_pipelines_location_fills_an_empty_field_or_wins_when_the_network_says_so(mapped, amo):
    net, account_id, crm, _, main, _ = mapped
    with tenant_context(net.network):
        field_loc, branch_loc = LocationFactory(), LocationFactory()
        from franchise_platform.crm_sync.connectors import connector_for
        from franchise_platform.crm_sync.sender import fields_ensure

        fields = fields_ensure(crm, connector_for(crm))
        crm_stage_map_set(
            connection=crm, pipeline_id=str(main), stages={}, location_id=str(branch_loc.pk)
        )
        amo.set_lead(account_id, 8301, 1000)
        amo.set_lead(
            account_id, 8302, 1000, location_enum_id=fields.location_options[str(field_loc.pk)]
        )
        crm.refresh_from_db()

        assert lead_facts_read(crm=crm, lead_id=8301).location_id == str(branch_loc.pk)
        assert lead_facts_read(crm=crm, lead_id=8302).location_id == str(field_loc.pk)
        crm_location_source_set(connection=crm, from_pipeline=True)
        crm.refresh_from_db()
        assert lead_facts_read(crm=crm, lead_id=8302).location_id == str(branch_loc.pk)


def test_a_lead_with_no_location_gets_its_pipelines_and_follows_a_move_to_another_branch(
    connected, amo
):
    from franchise_platform.flows.refresh import lead_refresh
    from franchise_platform.payments.models import Deal
    from tests.factories import shop

    from .test_widget_api import call

    net, account_id, crm = connected
    kazan = amo.add_pipeline(account_id, "Казань", ["Заявка"])
    sochi = amo.add_pipeline(account_id, "Сочи", ["Заявка"])
    with tenant_context(net.network):
        kazan_room = shop().partner.locations.get()
        sochi_room = shop().partner.locations.get()
        crm_pipelines_refresh(connection=crm)
        for pipeline, room in ((kazan, kazan_room), (sochi, sochi_room)):
            crm_stage_map_set(
                connection=crm, pipeline_id=str(pipeline["id"]), stages={}, location_id=str(room.pk)
            )
    entry = amo.stage_id(account_id, kazan["id"], "Заявка")
    amo.set_lead(account_id, 7001, 5000, pipeline_id=kazan["id"], status_id=entry)

    pressed = call(amo, account_id)

    assert pressed.status_code == 200, pressed.content
    assert pressed.json()["partner"]["id"] == str(kazan_room.partner_id)
    # A manager drags the lead into the Sochi pipeline: amoCRM's status_lead hook → re-read.
    amo.move_lead_by_hand(
        account_id, 7001, amo.stage_id(account_id, sochi["id"], "Заявка"), pipeline_id=sochi["id"]
    )
    with tenant_context(net.network):
        lead_refresh(lead_id=7001)
        deal = Deal.objects.get(crm_deal_id=7001)
        assert (deal.location_id, deal.partner_id) == (sochi_room.pk, sochi_room.partner_id)
