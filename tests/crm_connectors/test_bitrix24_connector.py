"""Bitrix24Connector against the fake: fields found or created, deals read and written, timeline
comments never twice, pipelines and stage moves, events verified, the offline queue drained."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from crm_connectors.base import (
    STAGE_LOST,
    STAGE_OPEN,
    STAGE_WON,
    CrmConnector,
    DealStateUpdate,
    FieldMap,
    LocationOption,
    StageMove,
)
from crm_connectors.bitrix24.connector import Bitrix24Connector
from crm_connectors.bitrix24.fields import FieldOptions
from crm_connectors.bitrix24.webhooks import PortalLeadEvent
from crm_connectors.errors import CrmNotFound, CrmValidationError
from tests.fakes._served import FakeHTTPServer
from tests.fakes.bitrix24 import FakeBitrix24

CODES = {
    "location": "UF_CRM_FP_LOCATION",
    "prepay": "UF_CRM_FP_PREPAY_URL",
    "full": "UF_CRM_FP_FULL_URL",
    "paid": "UF_CRM_FP_PAID_SUM",
    "status": "UF_CRM_FP_PAY_STATUS",
}
LOCATIONS = [LocationOption("11", "Москва"), LocationOption("12", "Санкт-Петербург")]
WRITES = (
    "crm.deal.userfield.add",
    "crm.deal.userfield.update",
    "crm.item.update",
    "crm.timeline.comment.add",
    "event.bind",
)


@pytest.fixture
def fields(b24_connector: Bitrix24Connector) -> FieldMap:
    return b24_connector.ensure_fields(LOCATIONS, None)


def writes(b24: FakeBitrix24, member_id: str) -> list[str]:
    return [c.method for c in b24.calls_of(member_id) if c.method in WRITES]


def option_id(b24: FakeBitrix24, member_id: str, code: str, value: str) -> int:
    field = b24.userfield(member_id, code)
    return int(next(o["ID"] for o in field["LIST"] if o["VALUE"] == value))


# -- fields ---------------------------------------------------------------------------------


def test_is_a_crm_connector() -> None:
    assert issubclass(Bitrix24Connector, CrmConnector)
    assert Bitrix24Connector.slug == "bitrix24"
    assert Bitrix24Connector.supports_pipelines


def test_ensure_fields_creates_the_user_fields_with_our_codes(
    b24: FakeBitrix24, member_id: str, fields: FieldMap
) -> None:
    by_code = {f["FIELD_NAME"]: f for f in b24.userfields(member_id)}

    assert {c: by_code[c]["USER_TYPE_ID"] for c in CODES.values()} == {
        "UF_CRM_FP_LOCATION": "enumeration",
        "UF_CRM_FP_PREPAY_URL": "url",
        "UF_CRM_FP_FULL_URL": "url",
        "UF_CRM_FP_PAID_SUM": "money",
        "UF_CRM_FP_PAY_STATUS": "enumeration",
    }
    assert fields.location_field_id == int(by_code[CODES["location"]]["ID"])
    assert fields.location_options == {
        "11": option_id(b24, member_id, CODES["location"], "Москва"),
        "12": option_id(b24, member_id, CODES["location"], "Санкт-Петербург"),
    }
    assert set(fields.status_options) == {
        "open", "partially_paid", "paid", "overpaid", "partially_refunded", "refunded"
    }  # fmt: skip
    assert FieldMap.from_dict(fields.to_dict()) == fields  # storable as the core stores it


def test_ensure_fields_twice_changes_nothing(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector, fields: FieldMap
) -> None:
    before = len(writes(b24, member_id))

    again = b24_connector.ensure_fields(LOCATIONS, fields)

    assert again == fields
    assert len(writes(b24, member_id)) == before


def test_ensure_fields_finds_fields_after_the_map_is_lost(
    b24: FakeBitrix24,
    member_id: str,
    make_b24_connector: Callable[..., Bitrix24Connector],
    fields: FieldMap,
) -> None:
    before = len(writes(b24, member_id))

    again = make_b24_connector().ensure_fields(LOCATIONS, None)

    assert again == fields
    assert len(writes(b24, member_id)) == before


def test_locations_follow_renames_additions_and_deactivations(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector, fields: FieldMap
) -> None:
    # The portal admin adds an option of their own.
    field = b24.userfield(member_id, CODES["location"])
    b24_connector.client.call(
        "crm.deal.userfield.update",
        {
            "id": int(field["ID"]),
            "fields": {"LIST": [*field["LIST"], {"VALUE": "Казань (вручную)"}]},
        },
    )
    changed = [
        LocationOption("11", "Москва-Сити"),
        LocationOption("12", "Санкт-Петербург", active=False),
        LocationOption("13", "Новосибирск"),
    ]

    updated = b24_connector.ensure_fields(changed, fields)

    values = {o["ID"]: o["VALUE"] for o in b24.userfield(member_id, CODES["location"])["LIST"]}
    assert values[str(updated.location_options["11"])] == "Москва-Сити"
    assert updated.location_options["11"] == fields.location_options["11"]  # renamed, same id
    assert values[str(updated.location_options["12"])] == "Санкт-Петербург (неактивна)"
    assert values[str(updated.location_options["13"])] == "Новосибирск"
    assert "Казань (вручную)" in values.values()  # someone else's option is left alone


def test_removed_locations_are_deleted_in_remove_mode(
    b24: FakeBitrix24, member_id: str, make_b24_connector: Callable[..., Bitrix24Connector]
) -> None:
    connector = make_b24_connector(field_options=FieldOptions(inactive_locations="remove"))
    fields = connector.ensure_fields(LOCATIONS, None)

    updated = connector.ensure_fields(
        [LOCATIONS[0], LocationOption("12", "СПб", active=False)], fields
    )

    values = [o["VALUE"] for o in b24.userfield(member_id, CODES["location"])["LIST"]]
    assert values == ["Москва"]
    assert set(updated.location_options) == {"11"}


def test_a_field_with_our_code_but_another_type_is_a_conflict(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector
) -> None:
    b24.add_userfield(member_id, CODES["paid"], "string")

    with pytest.raises(CrmValidationError) as caught:
        b24_connector.ensure_fields(LOCATIONS, None)

    assert caught.value.code == "field_type_conflict"


def test_code_prefix_is_kept_within_twenty_characters() -> None:
    with pytest.raises(ValueError):
        FieldOptions(code_prefix="FRANCHISE")
    assert len(FieldOptions().code("prepayment_url")) <= 20


# -- deals ----------------------------------------------------------------------------------


def test_read_lead_gives_price_location_pipeline_and_stage(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector, fields: FieldMap
) -> None:
    category = b24.add_category(member_id, "Франшиза", ["Новая", "Предоплата"])
    stage = b24.stages(member_id, category)[1]
    deal = b24.add_deal(
        member_id,
        title="Order #1042",
        opportunity="1500.50",
        category_id=category,
        stage_id=stage,
        **{CODES["location"]: str(fields.location_options["12"])},
    )

    snapshot = b24_connector.read_lead(deal, fields)

    assert snapshot.lead_id == deal
    assert snapshot.title == "Order #1042"
    assert snapshot.price == Decimal("1500.50")
    assert snapshot.location_key == "12"
    assert snapshot.pipeline_id == str(category)
    assert snapshot.stage_id == stage
    assert snapshot.updated_at is not None and snapshot.updated_at.tzinfo is not None


def test_read_lead_without_location_and_missing_deal(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector, fields: FieldMap
) -> None:
    deal = b24.add_deal(member_id, opportunity="0")

    snapshot = b24_connector.read_lead(deal, fields)

    assert snapshot.location_key is None
    assert snapshot.price == Decimal(0)
    assert snapshot.pipeline_id == "0" and snapshot.stage_id == "NEW"
    with pytest.raises(CrmNotFound):
        b24_connector.read_lead(deal + 1, fields)


def test_read_lead_takes_the_mapped_service_date(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector, fields: FieldMap
) -> None:
    field_id = b24.add_userfield(member_id, "UF_CRM_1721244707107", "datetime")
    mapped = FieldMap.from_dict({**fields.to_dict(), "service_date_field_id": field_id})
    deal = b24.add_deal(member_id, UF_CRM_1721244707107="2027-03-01T10:00:00+03:00")

    snapshot = b24_connector.read_lead(deal, mapped)

    assert snapshot.service_date == datetime(2027, 3, 1, 7, 0, tzinfo=UTC)


def test_write_deal_state_fills_links_paid_sum_and_status(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector, fields: FieldMap
) -> None:
    deal = b24.add_deal(member_id, opportunity="3000")
    update = DealStateUpdate(
        lead_id=deal,
        prepayment_url="https://pay.example.com/i/AB12",
        full_url="https://pay.example.com/i/CD34",
        paid_sum=Decimal("1500"),
        status_label="partially_paid",
    )

    b24_connector.write_deal_state(update, fields)
    b24_connector.write_deal_state(update, fields)  # idempotent: same values, same result

    row = b24.deal(member_id, deal)
    assert row[CODES["prepay"]] == "https://pay.example.com/i/AB12"
    assert row[CODES["full"]] == "https://pay.example.com/i/CD34"
    assert row[CODES["paid"]] == "1500.00|RUB"
    assert row[CODES["status"]] == str(fields.status_options["partially_paid"])
    assert len(b24.comments(member_id, deal)) == 0


def test_write_deal_state_clears_a_link_and_accepts_a_status_label(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector, fields: FieldMap
) -> None:
    deal = b24.add_deal(member_id, **{CODES["prepay"]: "https://pay.example.com/i/old"})

    b24_connector.write_deal_state(
        DealStateUpdate(
            deal, None, "https://pay.example.com/i/full", Decimal("3000.5"), "Оплачено"
        ),
        fields,
    )

    row = b24.deal(member_id, deal)
    assert row[CODES["prepay"]] is None
    assert row[CODES["paid"]] == "3000.50|RUB"
    assert row[CODES["status"]] == str(fields.status_options["paid"])


def test_write_deal_state_notices_a_field_deleted_by_hand(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector, fields: FieldMap
) -> None:
    deal = b24.add_deal(member_id)
    b24.delete_userfield(member_id, CODES["full"])

    with pytest.raises(CrmValidationError) as caught:
        b24_connector.write_deal_state(
            DealStateUpdate(deal, None, "https://pay.example.com/i/x", Decimal(0), "open"), fields
        )

    assert caught.value.code == "field_gone"
    assert caught.value.errors == (CODES["full"],)


def test_an_empty_field_left_out_of_the_answer_is_not_taken_for_gone(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector, fields: FieldMap
) -> None:
    b24.omit_empty_uf_in_items = True
    deal = b24.add_deal(member_id, **{CODES["prepay"]: "https://pay.example.com/i/old"})

    b24_connector.write_deal_state(DealStateUpdate(deal, None, None, Decimal(0), "open"), fields)

    assert b24.deal(member_id, deal)[CODES["prepay"]] is None
    b24.delete_userfield(member_id, CODES["prepay"])
    with pytest.raises(CrmValidationError) as caught:
        b24_connector.write_deal_state(
            DealStateUpdate(deal, None, None, Decimal(0), "open"), fields
        )
    assert caught.value.errors == (CODES["prepay"],)


def test_write_deal_state_refuses_bad_input(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector, fields: FieldMap
) -> None:
    deal = b24.add_deal(member_id)

    with pytest.raises(CrmValidationError):
        b24_connector.write_deal_state(
            DealStateUpdate(deal, "javascript:x", None, Decimal(0), "open"), fields
        )
    with pytest.raises(CrmValidationError):
        b24_connector.write_deal_state(
            DealStateUpdate(deal, None, None, Decimal(-1), "open"), fields
        )
    with pytest.raises(CrmValidationError):
        b24_connector.write_deal_state(
            DealStateUpdate(deal, None, None, Decimal(0), "nonsense"), fields
        )
    assert writes(b24, member_id).count("crm.item.update") == 0


# -- notes ----------------------------------------------------------------------------------


def test_note_is_a_timeline_comment_added_once(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector
) -> None:
    deal = b24.add_deal(member_id)
    text = "Оплата 1500 RUB получена [msg:7f3a]"

    first = b24_connector.add_note_once(deal, text, marker="[msg:7f3a]")
    for n in range(60):  # people comment afterwards: ours is on the search's second page
        b24.add_comment_by_hand(member_id, deal, f"later {n}")
    second = b24_connector.add_note_once(deal, text, marker="[msg:7f3a]")

    assert first == second
    assert [c["COMMENT"] for c in b24.comments(member_id, deal)].count(text) == 1
    assert len(b24.calls_of(member_id, "crm.timeline.comment.list")) == 3  # 1 + 2 pages


def test_find_note_misses_an_unknown_marker(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector
) -> None:
    deal = b24.add_deal(member_id)
    b24_connector.add_note(deal, "hello")

    assert b24_connector.find_note(deal, "[msg:none]") is None


def test_note_on_a_missing_deal_is_not_found(b24_connector: Bitrix24Connector) -> None:
    with pytest.raises(CrmNotFound):
        b24_connector.add_note(424242, "hello")


# -- pipelines ------------------------------------------------------------------------------


def test_pipelines_with_string_stage_ids_and_kinds(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector
) -> None:
    category = b24.add_category(member_id, "Франшиза", ["Новая", "Предоплата получена"], sort=50)

    pipelines = b24_connector.read_pipelines()

    assert [p.pipeline_id for p in pipelines] == [str(category), "0"]  # by sort
    general = pipelines[1]
    assert general.is_main
    assert general.stage("NEW") is not None and general.stage("NEW").kind == STAGE_OPEN  # type: ignore[union-attr]
    assert general.stage("WON").kind == STAGE_WON  # type: ignore[union-attr]
    assert general.stage("LOSE").kind == STAGE_LOST  # type: ignore[union-attr]
    franchise = b24_connector.read_pipeline(str(category))
    assert [s.stage_id for s in franchise.stages][-2:] == [f"C{category}:WON", f"C{category}:LOSE"]
    assert franchise.is_before(franchise.stages[0].stage_id, franchise.stages[1].stage_id)
    with pytest.raises(CrmNotFound):
        b24_connector.read_pipeline("999")


def test_move_lead_within_and_across_pipelines(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector
) -> None:
    category = b24.add_category(member_id, "Франшиза", ["Новая", "Предоплата"])
    deal = b24.add_deal(member_id)

    b24_connector.move_lead(StageMove(deal, "0", "EXECUTING"))
    assert b24.deal(member_id, deal)["STAGE_ID"] == "EXECUTING"

    target = b24.stages(member_id, category)[1]
    b24_connector.move_lead(StageMove(deal, str(category), target))
    row = b24.deal(member_id, deal)
    assert (row["CATEGORY_ID"], row["STAGE_ID"]) == (str(category), target)


def test_move_lead_refuses_a_stage_of_another_pipeline(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector
) -> None:
    deal = b24.add_deal(member_id)

    with pytest.raises(CrmValidationError):
        b24_connector.move_lead(StageMove(deal, "0", "C7:WON"))
    with pytest.raises(CrmValidationError):
        b24_connector.move_lead(StageMove(deal, "zero", "NEW"))
    assert b24.deal(member_id, deal)["STAGE_ID"] == "NEW"


# -- events ---------------------------------------------------------------------------------


def test_subscribe_binds_online_and_offline_events_once(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector
) -> None:
    url = "https://platform.example.com/integrations/bitrix24/events/"

    b24_connector.subscribe_webhook(url)
    b24_connector.subscribe_webhook(url)
    b24_connector.bind_uninstall("https://platform.example.com/integrations/bitrix24/uninstall/")
    b24_connector.bind_uninstall("https://platform.example.com/integrations/bitrix24/uninstall/")

    bound = {(b["event"], b["handler"], b["offline"]) for b in b24.bindings(member_id)}
    assert len(b24.bindings(member_id)) == len(bound) == 7
    assert ("ONCRMDEALUPDATE", url, False) in bound
    assert ("ONCRMDEALUPDATE", "", True) in bound
    assert (
        "ONAPPUNINSTALL",
        "https://platform.example.com/integrations/bitrix24/uninstall/",
        False,
    ) in bound


def test_events_are_believed_only_with_the_stored_application_token(
    b24: FakeBitrix24, member_id: str
) -> None:
    deal = b24.add_deal(member_id)
    stored = {member_id: b24.application_token(member_id)}
    genuine = b24.event_form(member_id, "ONCRMDEALUPDATE", deal)
    forged = b24.event_form(member_id, "ONCRMDEALUPDATE", deal, application_token="0" * 32)
    robot = b24.event_form(member_id, "ONCRMDEALUPDATE", deal, user_id=None)

    events = Bitrix24Connector.verified_events(genuine, stored.get)

    assert events == [
        PortalLeadEvent(kind="lead_updated", account_id=0, lead_id=deal, member_id=member_id)
    ]
    assert Bitrix24Connector.verified_events(robot, stored.get) == events
    assert Bitrix24Connector.verified_events(forged, stored.get) == []
    assert Bitrix24Connector.verified_events(genuine, {}.get) == []  # unknown portal


@pytest.mark.parametrize(
    "body",
    [b"", b"\xff\xfe", b"event=ONCRMDEALUPDATE", b"a" * 300_000, {"event": ["x"], 5: "y"}, "%%%"],
)
def test_junk_events_give_nothing_and_never_raise(body: Any) -> None:
    assert Bitrix24Connector.parse_webhook(body) == []
    assert Bitrix24Connector.verified_events(body, lambda _m: "x" * 32) == []


def test_posted_event_reaches_the_bound_handler(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector
) -> None:
    received: list[bytes] = []

    class Endpoint(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = FakeHTTPServer(("127.0.0.1", 0), Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/b24/events"
        b24_connector.subscribe_webhook(url)
        deal = b24.add_deal(member_id)

        assert b24.fire_event(member_id, "ONCRMDEALUPDATE", deal) == [200]
    finally:
        server.shutdown()
        server.server_close()
    stored = {member_id: b24.application_token(member_id)}
    assert [e.lead_id for e in Bitrix24Connector.verified_events(received[0], stored.get)] == [deal]


def test_offline_queue_is_drained_after_downtime(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector
) -> None:
    b24_connector.subscribe_webhook("https://platform.example.com/b24/events")
    deals = [b24.add_deal(member_id) for _ in range(60)]
    for deal in deals:
        b24.edit_deal_by_hand(member_id, deal, TITLE="edited")
        b24.edit_deal_by_hand(member_id, deal, TITLE="edited twice")  # one record per deal

    batch = b24_connector.drain_offline_events()

    updated = sorted(e.lead_id for e in batch.events if e.kind == "lead_updated")
    added = sorted(e.lead_id for e in batch.events if e.kind == "lead_added")
    assert updated == sorted(deals) and added == sorted(deals)
    assert batch.unreadable == 0
    assert all(isinstance(e, PortalLeadEvent) and e.member_id == member_id for e in batch.events)
    assert b24.offline_queue(member_id) == []
    assert b24_connector.drain_offline_events().events == ()


def test_deals_changed_since_is_the_catch_up_without_the_queue(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector
) -> None:
    old = b24.add_deal(member_id)
    b24.portal(member_id).deals[old]["DATE_MODIFY"] = "2026-01-01T00:00:00+00:00"
    fresh = b24.add_deal(member_id)

    changed = b24_connector.deals_changed_since(datetime(2026, 6, 1, tzinfo=UTC))

    assert changed == [fresh]
