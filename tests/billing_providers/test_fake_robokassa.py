"""The fake itself is as strict as the real Robokassa where the spec says so."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import quote

import pytest

from tests.fakes.robokassa import FakeRobokassa, PageError, fake_hash, result_callback_form

LOGIN, P1, P2, TP1, TP2 = "shop", "p1", "p2", "tp1", "tp2"


@pytest.fixture
def fake() -> FakeRobokassa:
    server = FakeRobokassa()  # the checks below need no HTTP
    server.register_shop(LOGIN, P1, P2, TP1, TP2)
    return server


def _request(out_sum="100.00", inv="1", password=P1, extra=(), signed=(), shp=(), test=False):
    """A payment request; ``signed`` are optional parts in their signature order."""
    parts = [LOGIN, out_sum, inv, *(value for _, value in signed), password]
    parts += [f"{k}={v}" for k, v in sorted(shp)]
    fields = [("MerchantLogin", LOGIN), ("OutSum", out_sum), ("InvId", inv), *signed, *extra]
    fields += [*shp, ("SignatureValue", fake_hash("md5", ":".join(parts)))]
    if test:
        fields.append(("IsTest", "1"))
    return fields


def _receipt(total="100.00", **item):
    data = {
        "sno": "usn_income",
        "items": [
            {
                "name": "Квест",
                "quantity": 1,
                "sum": json.loads(total),
                "payment_method": "full_prepayment",
                "payment_object": "service",
                "tax": "none",
                **item,
            }
        ],
    }
    return quote(json.dumps(data, ensure_ascii=False, separators=(",", ":")), safe="")


def _error(fake, fields) -> int:
    with pytest.raises(PageError) as caught:
        fake.accept_payment_request(fields)
    return caught.value.code


def test_accepts_a_correct_request_with_receipt_and_shp(fake):
    fields = _request(signed=[("Receipt", _receipt())], shp=[("Shp_a", "1"), ("Shp_b", "2")])
    invoice = fake.accept_payment_request(fields)
    assert invoice.receipt is not None
    assert invoice.shp == [("Shp_a", "1"), ("Shp_b", "2")]
    assert invoice.state is None  # no operation until the buyer pays


def test_test_requests_need_the_test_password(fake):
    assert fake.accept_payment_request(_request(password=TP1, test=True)).is_test
    assert _error(fake, _request(password=P1, test=True)) == 29
    assert _error(fake, _request(password=TP1)) == 29


def test_the_signature_covers_receipt_and_shp(fake):
    fields = _request(signed=[("Receipt", _receipt())], shp=[("Shp_a", "1")])
    tampered_receipt = [(k, _receipt(name="Другое") if k == "Receipt" else v) for k, v in fields]
    assert _error(fake, tampered_receipt) == 29
    tampered_shp = [(k, "2" if k == "Shp_a" else v) for k, v in fields]
    assert _error(fake, tampered_shp) == 29
    # Signing the raw JSON instead of the URL-encoded one (§2.4) is refused by this fake.
    raw_json = json.dumps({"items": []})
    raw = _request(signed=[("Receipt", raw_json)])
    raw = [(k, quote(raw_json, safe="") if k == "Receipt" else v) for k, v in raw]
    assert _error(fake, raw) == 29


def test_receipt_total_must_match_out_sum(fake):
    assert _error(fake, _request(signed=[("Receipt", _receipt(total="99.00"))])) == 30


@pytest.mark.parametrize(
    "item",
    [{"tax": "vat18"}, {"name": "Я" * 129}, {"payment_method": "cash"}, {"sum": 1.001}],
)
def test_receipt_items_are_checked(fake, item):
    assert _error(fake, _request(signed=[("Receipt", _receipt(**item))])) == 30


def test_other_page_errors(fake):
    assert _error(fake, [("MerchantLogin", "nobody"), ("OutSum", "1")]) == 26
    assert _error(fake, _request(out_sum="0")) == 31
    assert _error(fake, _request(out_sum="1,50")) == 31
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="seconds")
    assert _error(fake, _request(extra=[("ExpirationDate", past)])) == 33
    assert _error(fake, _request(extra=[("ExpirationDate", "2030-01-01T12:00")])) == 30
    assert _error(fake, _request(extra=[("Description", "x" * 101)])) == 30


def test_a_paid_live_invoice_number_cannot_be_reused(fake):
    fake.accept_payment_request(_request(inv="5"))
    fake.set_state(LOGIN, 5, 100)
    assert _error(fake, _request(inv="5")) == 40
    fake.accept_payment_request(_request(inv="5", password=TP1, test=True))  # test: allowed


def test_result_callback_form_matches_the_documented_shape():
    form = result_callback_form(
        out_sum=Decimal("100.26"), inv_id=450009, password2="P", shp={"Shp_login": "Vasya"}
    )
    assert form["OutSum"] == "100.260000"
    assert form["SignatureValue"] == fake_hash("md5", "100.260000:450009:P:Shp_login=Vasya").upper()
    assert form["EMail"] == "buyer@example.com"
    assert "IsTest" not in form
    test_form = result_callback_form(out_sum="100.26", inv_id=1, password2="P", is_test=True)
    assert test_form["OutSum"] == "100.26"  # strings are sent as given
    assert test_form["IsTest"] == "1"
    assert "EMail" not in test_form


def test_op_state_xml(fake):
    fake.accept_payment_request(_request(inv="8", shp=[("Shp_order", "42")]))
    login_sig = fake_hash("md5", f"{LOGIN}:8:{P2}")
    params = [("MerchantLogin", LOGIN), ("InvoiceID", "8"), ("Signature", login_sig)]
    assert "<Code>3</Code>" in fake._op_state(params)[1]
    fake.set_state(LOGIN, 8, 100)
    status, body, content_type, _ = fake._op_state(params)
    assert status == 200
    assert content_type.startswith("text/xml")
    assert 'xmlns="http://merchant.roboxchange.com/WebService/"' in body
    assert "<State><Code>100</Code>" in body
    assert "<OutSum>100.000000</OutSum>" in body
    assert "<Name>shp_order</Name><Value>42</Value>" in body
    bad = [("MerchantLogin", LOGIN), ("InvoiceID", "8"), ("Signature", "00")]
    assert "<Result><Code>1</Code>" in fake._op_state(bad)[1]
    assert fake._op_state([("MerchantLogin", LOGIN)])[0] == 500


def test_history_the_platform_did_not_create_is_reported_and_blocks_a_reused_number(fake):
    fake.add_history(LOGIN, 7, "500.00", shp=[("Shp_order", "77")])
    signature = fake_hash("md5", f"{LOGIN}:7:{P2}")
    params = [("MerchantLogin", LOGIN), ("InvoiceID", "7"), ("Signature", signature)]

    _, body, _, _ = fake._op_state(params)

    assert "<State><Code>100</Code>" in body and "<OutSum>500.000000</OutSum>" in body
    assert "<Name>shp_order</Name><Value>77</Value>" in body
    assert _error(fake, _request(out_sum="100.00", inv="7")) == 40  # already paid in the shop
    fake.add_history(LOGIN, 8, "500.00", state=10)  # cancelled: the number may be paid again
    assert fake.accept_payment_request(_request(out_sum="100.00", inv="8")).inv_id == 8


def test_a_callback_echoes_the_requested_shp_fields_unless_told_otherwise(fake):
    fake.accept_payment_request(_request(inv="9", shp=[("Shp_mark", "abc")]))

    echoed = fake.build_result_callback(LOGIN, 9, "100.00")
    bare = fake.build_result_callback(LOGIN, 9, "100.00", shp=[])

    assert echoed["Shp_mark"] == "abc" and "Shp_mark" not in bare
    assert echoed["SignatureValue"] != bare["SignatureValue"]
