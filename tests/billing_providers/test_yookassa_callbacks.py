"""YooKassa notifications: never trusted — sender allow-list, then the payment read back."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from billing_providers.yookassa.consts import NOTIFICATION_NETWORKS
from billing_providers.yookassa.provider import YooKassaProvider
from billing_providers.yookassa.webhooks import notification_params, parse_networks, source_allowed
from tests.billing_providers.yookassa_factories import (
    LOCAL_NETWORKS,
    OTHER_SECRET,
    OTHER_SHOP_ID,
    SECRET_KEY,
    SHOP_ID,
    YOOKASSA_IP,
    make_account,
    make_request,
    make_rig,
)
from tests.fakes.yookassa import FakeYooKassa


@pytest.fixture
def rig():
    rig = make_rig()
    rig.fake.auto_notify = False
    return rig


def _issue(rig, **overrides):
    issued = rig.provider.issue_invoice(make_account(), make_request(**overrides))
    rig.stored.payments[issued.invoice_id] = issued.payment_id
    return issued


def _params(rig, event, payment_id, *, ip=YOOKASSA_IP, edit=None):
    body = rig.fake.notification(event, rig.fake.payment(payment_id))
    if edit:
        edit(body["object"])
    return notification_params(json.dumps(body).encode(), ip)


def _verify(rig, params, expected=Decimal("1500.00"), **account):
    return rig.provider.verify_callback(make_account(**account), params, expected_amount=expected)


def test_a_paid_payment_is_accepted_from_the_api_answer(rig):
    issued = _issue(rig)
    rig.fake.pay(issued.payment_id)
    params = _params(rig, "payment.succeeded", issued.payment_id)

    assert rig.provider.callback_invoice_id(params) == 1042
    verdict = _verify(rig, params)
    assert verdict.accepted, verdict.reason
    assert verdict.invoice_id == 1042 and verdict.amount == Decimal("1500.00")
    assert verdict.extra == {"mark": "a1b2c3d4"}
    assert verdict.is_test is True
    assert verdict.payment_method == "bank_card"
    assert verdict.fee == Decimal("52.50")
    assert rig.provider.acknowledge(verdict) == ("OK", "text/plain")
    # The payment was read back from the API, with the shop's credentials.
    assert ("GET", f"/v3/payments/{issued.payment_id}") in [
        (m, p) for m, p, _q, _b in rig.fake.requests
    ]


def test_a_forged_succeeded_body_for_an_unpaid_payment_is_refused(rig):
    issued = _issue(rig)
    params = _params(
        rig,
        "payment.succeeded",
        issued.payment_id,
        edit=lambda o: o.update(status="succeeded", paid=True),
    )
    verdict = _verify(rig, params)
    assert not verdict.accepted and verdict.reason_code == "not_paid"


def test_the_body_amount_is_not_believed(rig):
    issued = _issue(rig)
    rig.fake.pay(issued.payment_id)
    params = _params(
        rig,
        "payment.succeeded",
        issued.payment_id,
        edit=lambda o: o.update(amount={"value": "5000.00", "currency": "RUB"}),
    )
    assert _verify(rig, params, expected=Decimal("1500.00")).accepted
    assert _verify(rig, params, expected=Decimal("5000.00")).reason_code == "amount_mismatch"


def test_a_sender_outside_the_allow_list_is_refused_before_any_call(rig):
    issued = _issue(rig)
    rig.fake.pay(issued.payment_id)
    before = len(rig.fake.requests)
    verdict = _verify(rig, _params(rig, "payment.succeeded", issued.payment_id, ip="203.0.113.9"))
    assert verdict.reason_code == "bad_source"
    assert len(rig.fake.requests) == before


def test_the_default_allow_list_is_the_documented_one():

    networks = parse_networks(NOTIFICATION_NETWORKS)
    assert source_allowed("185.71.76.31", networks)
    assert not source_allowed("185.71.76.32", networks)
    assert source_allowed("77.75.156.11", networks) and not source_allowed("77.75.156.12", networks)
    assert source_allowed("2a02:5180:0:1509::1", networks)
    assert source_allowed("::ffff:77.75.153.10", networks)
    assert not source_allowed("not an ip", networks)
    assert not source_allowed("127.0.0.1", networks)


def test_a_payment_of_another_shop_is_unknown_to_this_shop(rig):
    other = make_account(
        login=OTHER_SHOP_ID, secrets={"secret_key": OTHER_SECRET}, fiscalization=False
    )
    issued = rig.provider.issue_invoice(other, make_request(receipt=None))
    rig.fake.pay(issued.payment_id)
    verdict = _verify(rig, _params(rig, "payment.succeeded", issued.payment_id))
    assert verdict.reason_code == "unknown_payment"


def test_metadata_claiming_another_invoice_is_refused(rig):
    issued = _issue(rig)
    rig.fake.pay(issued.payment_id)
    params = _params(
        rig,
        "payment.succeeded",
        issued.payment_id,
        edit=lambda o: o["metadata"].update(invoice_id="77"),
    )
    assert rig.provider.callback_invoice_id(params) == 77
    assert _verify(rig, params).reason_code == "invoice_mismatch"


def test_a_test_shop_payment_never_pays_a_live_invoice(rig):
    issued = _issue(rig)
    rig.fake.pay(issued.payment_id)
    verdict = _verify(rig, _params(rig, "payment.succeeded", issued.payment_id), test_mode=False)
    assert verdict.reason_code == "unexpected_test" and verdict.is_test


def test_canceled_and_refund_events_are_acknowledged_without_paying(rig):
    issued = _issue(rig)
    rig.fake.decline(issued.payment_id, "insufficient_funds")
    verdict = _verify(rig, _params(rig, "payment.canceled", issued.payment_id))
    assert not verdict.accepted and verdict.reason_code == "ignored_event"
    assert verdict.reason_code in rig.provider.acknowledged_refusals
    refund_body = {
        "type": "notification",
        "event": "refund.succeeded",
        "object": {"id": "2f8c11d4-0015-5000-9000-1c2d3e4f5a6b", "payment_id": issued.payment_id},
    }
    verdict = _verify(rig, notification_params(json.dumps(refund_body), YOOKASSA_IP))
    assert verdict.reason_code == "ignored_event"


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        "[]",
        '{"type":"notification","event":"payment.succeeded","object":{}}',
        '{"type":"notification","event":"payment.succeeded","object":{"id":"../me"}}',
        '{"type":"x","event":"payment.succeeded","object":{"id":"abc"}}',
    ],
)
def test_malformed_bodies_are_refused_without_raising(rig, body):
    params = notification_params(body, YOOKASSA_IP)
    assert rig.provider.callback_invoice_id(params) is None
    assert _verify(rig, params).reason_code == "bad_body"


def test_an_api_outage_refuses_so_that_yookassa_retries(rig):
    issued = _issue(rig)
    rig.fake.pay(issued.payment_id)
    rig.fake.fail_next(500, path_prefix="/payments/", times=10)
    verdict = _verify(rig, _params(rig, "payment.succeeded", issued.payment_id))
    assert verdict.reason_code == "unavailable"
    assert verdict.reason_code not in rig.provider.acknowledged_refusals


def test_a_held_payment_is_captured_then_accepted(rig):
    rig.fake.shops["100500"].fiscalization = False
    body_capture = rig.provider.payment_body
    rig.provider.payment_body = lambda a, r: {**body_capture(a, r), "capture": False}
    issued = _issue(rig)
    rig.fake.pay(issued.payment_id)
    assert rig.fake.payment(issued.payment_id)["status"] == "waiting_for_capture"
    verdict = _verify(rig, _params(rig, "payment.waiting_for_capture", issued.payment_id))
    assert verdict.accepted
    assert rig.fake.payment(issued.payment_id)["status"] == "succeeded"


def test_revoked_credentials_make_the_check_not_configured(rig):
    issued = _issue(rig)
    rig.fake.pay(issued.payment_id)
    verdict = _verify(
        rig,
        _params(rig, "payment.succeeded", issued.payment_id),
        secrets={"secret_key": "test_old"},
    )
    assert verdict.reason_code == "not_configured"


def test_the_live_fake_posts_notifications_that_the_shop_verifies():
    """The live server: YooKassa's POST reaches a shop endpoint from 127.0.0.1 (allow-listed),
    which reads the payment back over HTTP before answering 200."""

    verdicts = []

    with FakeYooKassa() as fake:
        fake.register_shop(SHOP_ID, SECRET_KEY, fiscalization=True)
        provider = YooKassaProvider(
            api_base_url=fake.api_base_url,
            return_url="https://platform.example/{invoice_id}",
            http_client=httpx.Client(),
            notification_networks=LOCAL_NETWORKS,
        )

        class Shop(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                verdict = provider.verify_callback(
                    make_account(),
                    notification_params(body, self.client_address[0]),
                    expected_amount=Decimal("1500.00"),
                )
                verdicts.append(verdict)
                ok = verdict.accepted or verdict.reason_code in provider.acknowledged_refusals
                self.send_response(200 if ok else 400)
                self.send_header("Content-Length", "0")
                self.end_headers()

        server = ThreadingHTTPServer(("127.0.0.1", 0), Shop)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            fake.shops[SHOP_ID].cabinet_url = f"http://127.0.0.1:{server.server_address[1]}/cb"
            issued = provider.issue_invoice(make_account(), make_request())
            page = httpx.get(issued.payment_url, params={"action": "pay"})
            assert page.status_code == 200
        finally:
            server.shutdown()
            server.server_close()

    assert [d.status for d in fake.deliveries] == [200]
    assert fake.deliveries[0].body["event"] == "payment.succeeded"
    assert len(verdicts) == 1 and verdicts[0].accepted and verdicts[0].invoice_id == 1042
