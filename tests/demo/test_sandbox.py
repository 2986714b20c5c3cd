"""The sandbox's edges: absent unless DEMO_SANDBOX (production never has it), and its stand-in CRM
file shared by processes (the web's and the worker's) without losing a write."""

from __future__ import annotations

import multiprocessing
import uuid
from decimal import Decimal

import pytest
from django.test import Client

from crm_connectors.dummy.connector import DummyCrmConnector
from crm_connectors.dummy.store import FileCrmStore


@pytest.mark.django_db
def test_no_sandbox_unless_demo_sandbox_is_on(settings, net_a):
    assert settings.DEMO_SANDBOX is False  # the test (and production) settings
    platform = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    for path in ("/sandbox/", "/sandbox/widget/script.js", "/sandbox/vendor/jquery.js"):
        assert platform.get(path).status_code == 404, path
    assert platform.post("/sandbox/token/").status_code in {403, 404}
    network = Client(HTTP_HOST=net_a.host)
    assert network.get("/sandbox/pay/?inv=1&sum=1.00&sig=x").status_code == 404
    assert network.post(f"/callbacks/dummy/{uuid.uuid4()}/result/").status_code == 404


def _add_notes(path: str, count: int) -> None:
    connector = DummyCrmConnector(account_id=5, store=FileCrmStore(path))
    for n in range(count):
        connector.add_note(1, f"note {n}")


def test_the_file_store_is_shared_by_processes_and_loses_no_write(tmp_path):
    path = str(tmp_path / "crm.json")
    DummyCrmConnector(account_id=5, store=FileCrmStore(path)).seed_lead(
        1, title="Сделка", price=Decimal("5000"), location_key="loc"
    )
    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=_add_notes, args=(path, 25)) for _ in range(3)]
    for proc in writers:
        proc.start()
    for proc in writers:
        proc.join(60)
        assert proc.exitcode == 0
    lead = DummyCrmConnector(account_id=5, store=FileCrmStore(path)).lead(1)
    assert lead.price == Decimal("5000") and lead.location_key == "loc"
    assert len(lead.notes) == 75
    assert len({note_id for note_id, _ in lead.notes}) == 75  # ids unique across processes


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        {},
        {"inv": "9999999999999999999", "sum": "1.00", "sig": "0" * 64},  # beyond bigint
        {"inv": "1", "sum": "abc", "sig": "x"},
        {"inv": "²", "sum": "NaN", "sig": ""},
        {"inv": "1", "sum": "1e999999", "x_mark": "\x00", "sig": "0" * 64},
    ],
)
def test_the_dummy_payment_page_refuses_what_it_did_not_sign(in_network, rf, query):
    from franchise_platform.sandbox.pay import payment_page

    request = rf.get("/sandbox/pay/", query, HTTP_HOST=in_network.host)
    request.tenant = in_network.network
    answer = payment_page(request)
    assert answer.status_code == 400
    assert "Ссылка на оплату недействительна" in answer.content.decode()


@pytest.mark.parametrize(
    ("typed", "price"),
    [("7000", "7000"), ("1500,50", "1500"), ("NaN", "5000"), ("-3", "1"), ("1e999999", "5000"),
     ("sNaN", "5000"), ("", "5000"), ("99999999999", "9999999")],
)  # fmt: skip
def test_a_new_sandbox_lead_takes_any_typed_budget(settings, tmp_path, rf, typed, price):
    from franchise_platform.sandbox.card import lead_create
    from franchise_platform.sandbox.demo import DEMO_ACCOUNT_ID, WALK_LEAD_ID, demo_connector

    settings.CRM_CONNECTOR_OPTIONS = {"dummy": {"store_path": str(tmp_path / "crm.json")}}
    request = rf.post("/sandbox/leads/", {"price": typed})
    request._dont_enforce_csrf_checks = True
    answer = lead_create(request)
    assert answer.status_code == 302
    assert answer["Location"] == f"/sandbox/?lead={WALK_LEAD_ID + 1}"
    assert demo_connector(DEMO_ACCOUNT_ID).lead(WALK_LEAD_ID + 1).price == Decimal(price)
