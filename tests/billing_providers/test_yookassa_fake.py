"""The fake is as strict as YooKassa where the spec says so (Appendix A), so that passing
against it means something."""

from __future__ import annotations

import base64
import json

import pytest

from tests.billing_providers.yookassa_factories import SECRET_KEY, SHOP_ID, make_fake

BASIC = "Basic " + base64.b64encode(f"{SHOP_ID}:{SECRET_KEY}".encode()).decode()
PAYMENT = {
    "amount": {"value": "100.00", "currency": "RUB"},
    "capture": True,
    "confirmation": {"type": "redirect", "return_url": "https://shop.example/back"},
    "receipt": {
        "customer": {"email": "a@example.com"},
        "items": [
            {
                "description": "Услуга",
                "quantity": 1,
                "amount": {"value": "100.00", "currency": "RUB"},
                "vat_code": 1,
                "payment_subject": "service",
                "payment_mode": "full_prepayment",
                "measure": "piece",
            }
        ],
    },
}


@pytest.fixture
def fake():
    return make_fake()


def call(fake, method, path, body=None, *, key="k-1", auth=BASIC, content_type="application/json"):
    headers = {"authorization": auth, "content-type": content_type}
    if key is not None:
        headers["idempotence-key"] = key
    raw = json.dumps(body).encode() if body is not None else b""
    answer = fake.handle(method, "/v3" + path, {}, headers, raw)
    return answer.status, json.loads(answer.content()) if answer.content() else None


def test_credentials_are_checked(fake):
    wrong = "Basic " + base64.b64encode(b"100500:bad").decode()
    assert call(fake, "GET", "/me", auth=wrong)[0] == 401
    assert call(fake, "GET", "/me", auth="Bearer nope")[0] == 401
    assert call(fake, "GET", "/me")[0] == 200
    status, body = call(fake, "GET", "/me", auth="")
    assert status == 401 and body["code"] == "invalid_credentials" and body["type"] == "error"


def test_post_needs_a_valid_idempotence_key(fake):
    status, body = call(fake, "POST", "/payments", PAYMENT, key=None)
    assert status == 400 and body["parameter"] == "Idempotence-Key"
    status, body = call(fake, "POST", "/payments", PAYMENT, key="x" * 65)
    assert status == 400 and "too long" in body["description"]
    assert fake.payments == {}


def test_same_key_same_body_replays_other_body_is_refused(fake):
    first = call(fake, "POST", "/payments", PAYMENT)
    assert call(fake, "POST", "/payments", PAYMENT) == first
    other = {**PAYMENT, "description": "другое"}
    status, body = call(fake, "POST", "/payments", other)
    assert status == 400 and body["description"] == "Idempotence key duplicated"
    assert len(fake.payments) == 1
    assert call(fake, "POST", "/payments", PAYMENT, key="k-2")[1]["id"] != first[1]["id"]


def test_a_key_expires_after_24_hours(fake):
    first = call(fake, "POST", "/payments", PAYMENT)
    fake.advance(24 * 3600 + 1)
    assert call(fake, "POST", "/payments", PAYMENT)[1]["id"] != first[1]["id"]


def test_a_refusal_is_replayed_too(fake):
    bad = {**PAYMENT, "amount": {"value": "100", "currency": "RUB"}}
    first = call(fake, "POST", "/payments", bad)
    assert first[0] == 400 and first[1]["parameter"] == "amount.value"
    assert call(fake, "POST", "/payments", bad)[1]["id"] == first[1]["id"]


def test_content_type_verb_and_path(fake):
    assert call(fake, "POST", "/payments", PAYMENT, content_type="text/plain")[0] == 415
    assert call(fake, "DELETE", "/payments")[0] == 405
    assert (
        call(fake, "GET", "/payments/2f8b7e3a-000f-5000-8000-1a2b3c4d5e6f")[1]["code"]
        == "not_found"
    )


@pytest.mark.parametrize(
    ("edit", "parameter"),
    [
        (lambda b: b.update(amount={"value": 100.0, "currency": "RUB"}), "amount.value"),
        (lambda b: b.update(amount={"value": "100.00", "currency": "XXX"}), "amount.currency"),
        (lambda b: b.update(description="x" * 129), "description"),
        (lambda b: b.update(metadata={f"k{i}": "v" for i in range(17)}), "metadata"),
        (lambda b: b.update(metadata={"k" * 33: "v"}), "metadata"),
        (lambda b: b["confirmation"].update(locale="ru"), "confirmation.locale"),
        (lambda b: b["confirmation"].pop("return_url"), "confirmation.return_url"),
        (lambda b: b.pop("receipt"), "receipt"),
        (lambda b: b["receipt"]["items"][0].update(vat_code=13), "receipt.items[0].vat_code"),
        (
            lambda b: b["receipt"]["items"][0].update(payment_mode="prepayment"),
            "receipt.items[0].payment_mode",
        ),
        (lambda b: b["receipt"]["items"][0].pop("measure"), "receipt.items[0].measure"),
        (lambda b: b["receipt"]["items"][0].update(quantity=0), "receipt.items[0].quantity"),
        (lambda b: b["receipt"]["items"][0].update(quantity=2), "receipt"),  # 200 ≠ 100
        (
            lambda b: b["receipt"].update(customer={"phone": "79000000000"}),
            "receipt.customer.email",
        ),
        (lambda b: b["receipt"].update(tax_system_code=7), "receipt.tax_system_code"),
    ],
)
def test_payment_bodies_are_validated(fake, edit, parameter):
    body = json.loads(json.dumps(PAYMENT))
    edit(body)
    status, answer = call(fake, "POST", "/payments", body)
    assert (status, answer["parameter"]) == (400, parameter)


def test_vat_code_may_come_as_a_numeric_string(fake):
    body = json.loads(json.dumps(PAYMENT))
    body["receipt"]["items"][0]["vat_code"] = "1"
    assert call(fake, "POST", "/payments", body)[0] == 200


def test_capture_defaults_to_false_and_states_move_only_forward(fake):
    body = {k: v for k, v in PAYMENT.items() if k != "capture"}
    _s, payment = call(fake, "POST", "/payments", body)
    assert payment["status"] == "pending" and "confirmation" in payment
    assert call(fake, "POST", f"/payments/{payment['id']}/capture", {}, key="c-0")[0] == 400
    fake.pay(payment["id"])
    held = fake.payment(payment["id"])
    assert held["status"] == "waiting_for_capture" and held["paid"] and "expires_at" in held
    assert "confirmation" not in held
    assert (
        call(
            fake,
            "POST",
            "/refunds",
            {"payment_id": payment["id"], "amount": PAYMENT["amount"]},
            key="r-0",
        )[0]
        == 400
    )
    status, done = call(fake, "POST", f"/payments/{payment['id']}/capture", {}, key="c-1")
    assert status == 200 and done["status"] == "succeeded" and "expires_at" not in done
    assert call(fake, "POST", f"/payments/{payment['id']}/cancel", {}, key="x-1")[0] == 400
    with pytest.raises(ValueError):
        fake.decline(payment["id"])


def test_refunds_add_up_to_the_payment_at_most(fake):
    _s, payment = call(fake, "POST", "/payments", PAYMENT)
    fake.pay(payment["id"])
    half = {"value": "50.00", "currency": "RUB"}
    receipt = json.loads(json.dumps(PAYMENT["receipt"]))
    receipt["items"][0]["amount"] = half
    refund = {"payment_id": payment["id"], "amount": half}
    assert call(fake, "POST", "/refunds", refund, key="r-1")[1]["parameter"] == "receipt"
    assert call(fake, "POST", "/refunds", {**refund, "receipt": receipt}, key="r-2")[0] == 200
    too_much = {"payment_id": payment["id"], "amount": {"value": "60.00", "currency": "RUB"}}
    assert call(fake, "POST", "/refunds", too_much, key="r-3")[1]["parameter"] == "amount"
    assert (
        call(fake, "POST", "/refunds", {**refund, "description": "x" * 251}, key="r-4")[1][
            "parameter"
        ]
        == "description"
    )


def test_receipts_need_settlements_send_and_an_own_payment(fake):
    _s, payment = call(fake, "POST", "/payments", PAYMENT)
    receipt = {
        "type": "payment",
        "payment_id": payment["id"],
        "customer": {"email": "a@example.com"},
        "items": [{**PAYMENT["receipt"]["items"][0], "payment_mode": "full_payment"}],
        "settlements": [{"type": "prepayment", "amount": PAYMENT["amount"]}],
        "send": True,
    }
    assert (
        call(fake, "POST", "/receipts", receipt, key="t-1")[1]["parameter"] == "payment_id"
    )  # pending
    fake.pay(payment["id"])
    assert (
        call(fake, "POST", "/receipts", {**receipt, "send": False}, key="t-2")[1]["parameter"]
        == "send"
    )
    short = {
        **receipt,
        "settlements": [{"type": "prepayment", "amount": {"value": "10.00", "currency": "RUB"}}],
    }
    assert call(fake, "POST", "/receipts", short, key="t-3")[1]["parameter"] == "settlements"
    status, made = call(fake, "POST", "/receipts", receipt, key="t-4")
    assert status == 200 and made["id"].startswith("rt-") and made["status"] == "pending"
    assert made["items"][0]["quantity"] == "1.000"


def test_webhooks_are_for_oauth_tokens_only_and_https(fake):
    status, body = call(fake, "GET", "/webhooks")
    assert status == 403 and body["code"] == "forbidden"
    token = fake.issue_token(SHOP_ID)
    hook = {"event": "payment.succeeded", "url": "http://platform.example/cb"}
    assert call(fake, "POST", "/webhooks", hook, auth=f"Bearer {token}")[1]["parameter"] == "url"
    hook["url"] = "https://platform.example/cb"
    status, made = call(fake, "POST", "/webhooks", hook, auth=f"Bearer {token}", key="w-1")
    assert status == 200 and made["id"].startswith("wh-")
    elsewhere = {**hook, "url": "https://other.example/cb"}
    assert call(fake, "POST", "/webhooks", elsewhere, auth=f"Bearer {token}", key="w-2")[0] == 400
    assert call(fake, "DELETE", f"/webhooks/{made['id']}", auth=f"Bearer {token}", key="w-3") == (
        200,
        {},
    )
    assert call(fake, "GET", "/webhooks", auth=f"Bearer {token}")[1] == {
        "type": "list",
        "items": [],
    }


def test_forced_rate_limit_answers_429_without_doing_anything(fake):
    fake.fail_next(429, path_prefix="/payments")
    status, body = call(fake, "POST", "/payments", PAYMENT)
    assert status == 429 and body["code"] == "too_many_requests" and fake.payments == {}
    assert call(fake, "POST", "/payments", PAYMENT)[0] == 200  # the same key now works
