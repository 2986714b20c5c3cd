"""Inbound webhook parsing: the §3.2 form, junk ignored, garbage never raises."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_connectors.amocrm.webhooks import parse_lead_events
from crm_connectors.base import LeadEvent
from tests.fakes.amocrm import FakeAmoCrm

SPEC_EXAMPLE = (
    "leads[status][0][id]=15318175&leads[status][0][status_id]=67548619"
    "&leads[status][0][old_status_id]=67548607&leads[status][0][pipeline_id]=8572511"
    "&leads[status][0][price]=1000&leads[status][0][responsible_user_id]=12345678"
    "&leads[status][0][last_modified]=1726572758&leads[status][0][modified_user_id]=11087123"
    "&leads[status][0][created_user_id]=11087123&leads[status][0][date_create]=1726572752"
    "&leads[status][0][account_id]=1312313"
    "&leads[status][0][custom_fields][0][id]=1246489"
    "&leads[status][0][custom_fields][0][name]=Select"
    "&leads[status][0][custom_fields][0][values][0][value]=2"
    "&leads[status][0][custom_fields][0][values][0][enum]=908107"
    "&account[subdomain]=test&account[id]=1312313"
    "&account[_links][self]=https://test.kommo.com"
)


def test_the_spec_example_gives_one_status_event() -> None:
    assert parse_lead_events(SPEC_EXAMPLE) == [LeadEvent("lead_status", 1312313, 15318175)]
    assert parse_lead_events(SPEC_EXAMPLE.encode()) == [LeadEvent("lead_status", 1312313, 15318175)]


def test_several_actions_and_leads_in_one_request() -> None:
    body = urlencode(
        [
            ("leads[update][0][id]", "1"),
            ("leads[update][1][id]", "2"),
            ("leads[status][0][id]", "1"),
            ("leads[add][0][id]", "3"),
            ("leads[delete][0][id]", "4"),
            ("leads[restore][0][id]", "5"),
            ("leads[responsible][0][id]", "6"),  # not something the platform reads
            ("leads[note][0][id]", "7"),
            ("contacts[update][0][id]", "8"),
            ("leads[update][2][id]", "1"),  # duplicate of the first
            ("account[id]", "42"),
        ]
    )

    events = parse_lead_events(body)

    assert events == [
        LeadEvent("lead_updated", 42, 1),
        LeadEvent("lead_updated", 42, 2),
        LeadEvent("lead_status", 42, 1),
        LeadEvent("lead_added", 42, 3),
        LeadEvent("lead_deleted", 42, 4),
        LeadEvent("lead_updated", 42, 5),
    ]


def test_a_mapping_of_lists_or_of_strings_is_accepted() -> None:
    as_lists = {"leads[update][0][id]": ["9"], "account[id]": ["42"]}
    as_strings = {"leads[update][0][id]": "9", "account[id]": "42"}  # QueryDict[...] gives str

    assert parse_lead_events(as_lists) == [LeadEvent("lead_updated", 42, 9)]
    assert parse_lead_events(as_strings) == [LeadEvent("lead_updated", 42, 9)]


@pytest.mark.parametrize(
    "body",
    [
        "",
        "garbage",
        "leads[update][0][id]=abc&account[id]=1",
        "leads[update][0][id]=-5&account[id]=1",
        "leads[update][0][id]=0&account[id]=1",
        "leads[update][0][id]=1",  # no account at all
        "leads[update][0][id]=1&account[id]=1e9",
        "leads[update][0][id]=99999999999999999999999&account[id]=1",
        "leads[update][0][id]=1&leads[update][0][account_id]=2&account[id]=1",  # mismatch
        "leads[update][x][id]=1&account[id]=1",
        "leads[%ff%fe][0][id]=1&account[id]=1",
        "\x00\x01\x02",
        "a=" + "b" * 2_000_000,
    ],
)
def test_junk_gives_no_events(body: str) -> None:
    assert parse_lead_events(body) == []


@pytest.mark.parametrize(
    "payload",
    [b"\xff\xfe\xfd", {"leads[update][0][id]": 5}, {1: ["2"]}, {"account[id]": None}, {}],
)
def test_odd_types_never_raise(payload: object) -> None:
    assert parse_lead_events(payload) == []  # type: ignore[arg-type]


def test_item_account_is_used_when_the_account_block_is_missing() -> None:
    body = "leads[add][0][id]=7&leads[add][0][account_id]=42"

    assert parse_lead_events(body) == [LeadEvent("lead_added", 42, 7)]


@given(st.binary(max_size=2000))
def test_random_bytes_never_raise(data: bytes) -> None:
    result = parse_lead_events(data)
    assert all(isinstance(e, LeadEvent) for e in result)


@given(
    st.dictionaries(
        st.text(max_size=40),
        st.one_of(st.text(max_size=20), st.lists(st.text(max_size=20), max_size=3)),
        max_size=20,
    )
)
def test_random_mappings_never_raise(data: dict[str, object]) -> None:
    for event in parse_lead_events(data):
        assert event.lead_id > 0
        assert event.account_id > 0


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[bytes]]]:
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook/s3cret/", bodies
    server.shutdown()
    server.server_close()


def test_fired_webhook_round_trips(
    fake: FakeAmoCrm, account_id: int, receiver: tuple[str, list[bytes]]
) -> None:
    url, bodies = receiver
    fake.set_lead(account_id, 7001, 5000)

    response = fake.fire_webhook(url, account_id, 7001, "update")

    assert response.status_code == 200
    assert parse_lead_events(bodies[0]) == [LeadEvent("lead_updated", account_id, 7001)]
