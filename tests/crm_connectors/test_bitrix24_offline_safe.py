"""Bitrix24's offline queue in its safe mode (spec §6.5) against the strict fake: ``clear=0``
holds the records under a process id, the same id is handed them again, other ids get disjoint
sets, ``event.offline.clear`` forgets exactly the ids it names, and a hold lapses after 30 days."""

from __future__ import annotations

import time
from unittest import mock

import pytest

from crm_connectors.base import CatchUpBatch
from crm_connectors.bitrix24.connector import Bitrix24Connector
from crm_connectors.errors import CrmError
from tests.fakes.bitrix24 import FakeBitrix24

PROCESS = "a" * 32
OTHER = "b" * 32


@pytest.fixture
def edited(b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector) -> list[int]:
    """Three deals edited by hand while we were away (one offline record each)."""
    b24_connector.subscribe_webhook("https://platform.example.com/b24/events")
    deals = [b24.add_deal(member_id) for _ in range(3)]
    for deal in deals:
        b24.edit_deal_by_hand(member_id, deal, TITLE="edited")
    return deals


def updated_ids(batch: CatchUpBatch) -> list[int]:
    return sorted(e.lead_id for e in batch.events if e.kind == "lead_updated")


def test_a_reserve_holds_the_records_instead_of_forgetting_them(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector, edited: list[int]
) -> None:
    before = b24.offline_queue(member_id)

    batch = b24_connector.catch_up_reserve(process_id=PROCESS)

    assert updated_ids(batch) == sorted(edited)
    assert b24.offline_queue(member_id) == before
    assert set(b24.offline_reservations(member_id).values()) == {PROCESS}
    assert sorted(batch.record_ids) == sorted(r["ID"] for r in before)


def test_the_same_process_is_handed_the_same_records_and_another_none_of_them(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector, edited: list[int]
) -> None:
    first = b24_connector.catch_up_reserve(process_id=PROCESS)

    again = b24_connector.catch_up_reserve(process_id=PROCESS)
    other = b24_connector.catch_up_reserve(process_id=OTHER)

    assert sorted(again.record_ids) == sorted(first.record_ids)
    assert other.record_ids == () and other.events == ()


def test_acknowledge_clears_exactly_the_batch_and_keeps_a_newer_change(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector, edited: list[int]
) -> None:
    batch = b24_connector.catch_up_reserve(process_id=PROCESS)
    # A manager edits the first deal again between our read and our acknowledgement.
    b24.edit_deal_by_hand(member_id, edited[0], TITLE="edited again")

    b24_connector.catch_up_acknowledge(batch)

    left = b24.offline_queue(member_id)
    assert [r["EVENT_DATA"]["FIELDS"]["ID"] for r in left] == [str(edited[0])]
    assert b24.offline_reservations(member_id) == {}
    assert updated_ids(b24_connector.catch_up_reserve(process_id=PROCESS)) == [edited[0]]


def test_a_hold_lapses_after_thirty_days(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector, edited: list[int]
) -> None:
    b24_connector.catch_up_reserve(process_id=PROCESS)
    later = time.time() + 30 * 86400 + 60

    with mock.patch("tests.fakes.bitrix24.time.time", return_value=later):
        other = b24_connector.catch_up_reserve(process_id=OTHER)

    assert updated_ids(other) == sorted(edited)


def test_the_fake_refuses_a_clear_without_a_process_id(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector, edited: list[int]
) -> None:
    before = b24.offline_queue(member_id)
    held = b24_connector.catch_up_reserve(process_id=PROCESS)

    with pytest.raises(CrmError):
        b24_connector.client.call("event.offline.clear", {"id": list(held.record_ids)})

    assert b24.offline_queue(member_id) == before


def test_records_marked_as_errors_are_skipped_unless_asked_for(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector, edited: list[int]
) -> None:
    answer = b24_connector.client.call("event.offline.get", {"clear": 0, "process_id": PROCESS})
    first = answer.result["events"][0]
    b24_connector.client.call(
        "event.offline.error", {"process_id": PROCESS, "message_id": [first["MESSAGE_ID"]]}
    )

    plain = b24_connector.client.call("event.offline.get", {"clear": 0, "process_id": PROCESS})
    with_errors = b24_connector.client.call(
        "event.offline.get", {"clear": 0, "process_id": PROCESS, "error": 1}
    )

    assert first["ID"] not in {r["ID"] for r in plain.result["events"]}
    assert first["ID"] in {r["ID"] for r in with_errors.result["events"]}


@pytest.mark.parametrize("process_id", ["", "x" * 33, "ab-cd", "ид"])
def test_a_process_id_of_another_shape_is_refused_before_any_call(
    b24: FakeBitrix24, member_id: str, b24_connector: Bitrix24Connector, process_id: str
) -> None:
    calls = len(b24.calls_of(member_id))
    with pytest.raises(ValueError):
        b24_connector.catch_up_reserve(process_id=process_id)
    assert len(b24.calls_of(member_id)) == calls
