"""Creating a YooKassa payment: the body, the 54-FZ receipt rules, idempotent retries."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from billing_providers.base import PaymentKind
from billing_providers.errors import ProviderConfigError, ProviderUnavailable
from billing_providers.yookassa.client import RequestRefused, parse_datetime
from billing_providers.yookassa.provider import YooKassaIssuedInvoice
from billing_providers.yookassa.receipts import receipt_summary
from tests.billing_providers.yookassa_factories import (
    SHOP_ID,
    make_account,
    make_fake,
    make_receipt,
    make_request,
    make_rig,
)


def _sent_bodies(fake, path="/v3/payments"):
    return [
        json.loads(body) for method, p, _q, body in fake.requests if method == "POST" and p == path
    ]


def test_issue_creates_a_one_stage_redirect_payment_with_our_invoice_in_metadata():
    rig = make_rig()
    issued = rig.provider.issue_invoice(make_account(), make_request())

    assert isinstance(issued, YooKassaIssuedInvoice)
    payment = rig.fake.payment(issued.payment_id)
    assert payment["status"] == "pending" and payment["paid"] is False
    assert issued.payment_url == payment["confirmation"]["confirmation_url"]
    assert issued.is_test is True and issued.status == "pending"
    body = _sent_bodies(rig.fake)[0]
    assert body["amount"] == {"value": "1500.00", "currency": "RUB"}
    assert body["capture"] is True  # the API's default is two-stage
    assert body["confirmation"] == {
        "type": "redirect",
        "return_url": "https://platform.example/pay/return/1042",
        "locale": "ru_RU",
    }
    assert body["metadata"] == {"invoice_id": "1042", "mark": "a1b2c3d4"}
    # The confirmation page lapses after about an hour: the invoice says so.
    assert (issued.expires_at - _created(payment)).total_seconds() == 3600


def _created(payment):
    return parse_datetime(payment["created_at"])


@pytest.mark.parametrize(
    ("kind", "rendered", "vat", "mode", "code"),
    [
        (PaymentKind.FULL, False, "vat22", "full_prepayment", 12),
        (PaymentKind.PREPAYMENT, False, "vat22", "partial_prepayment", 12),
        (PaymentKind.REMAINDER, False, "vat10", "partial_prepayment", 5),
        (PaymentKind.REMAINDER, True, "vat22", "full_payment", 11),
        (PaymentKind.FULL, True, "vat20", "full_payment", 4),
        (PaymentKind.FULL, False, "vat5", "full_prepayment", 9),
        (PaymentKind.FULL, False, "none", "full_prepayment", 1),
    ],
)
def test_receipt_follows_the_prepayment_full_remainder_rules(kind, rendered, vat, mode, code):
    rig = make_rig()
    receipt = make_receipt(payment_kind=kind, service_rendered=rendered, vat=vat, tax_system="osn")
    issued = rig.provider.issue_invoice(make_account(), make_request(receipt=receipt))

    sent = _sent_bodies(rig.fake)[0]["receipt"]
    assert sent["customer"] == {"email": "client@example.com"}
    assert sent["tax_system_code"] == 1
    assert sent["items"] == [
        {
            "description": "Консультация",
            "quantity": 1,
            "amount": {"value": "1500.00", "currency": "RUB"},
            "vat_code": code,
            "payment_subject": "service",
            "payment_mode": mode,
            "measure": "piece",
        }
    ]
    assert json.loads(issued.receipt_json) == sent
    summary = receipt_summary(issued.receipt_json)
    assert summary is not None and summary.tax_system == "osn"
    assert summary.payment_method == {"partial_prepayment": "prepayment"}.get(mode, mode)


def test_a_shop_without_fiscalization_sends_no_receipt():
    rig = make_rig(make_fake(fiscalization=False))
    issued = rig.provider.issue_invoice(make_account(fiscalization=False), make_request())
    assert "receipt" not in _sent_bodies(rig.fake)[0]
    assert issued.receipt_json is None


def test_the_fake_refuses_a_fiscalizing_shop_payment_without_receipt():
    rig = make_rig()
    with pytest.raises(RequestRefused) as caught:
        rig.provider.issue_invoice(make_account(fiscalization=False), make_request(invoice_id=7))
    assert caught.value.status == 400 and caught.value.parameter == "receipt"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"email": None}, "no_contact"),
        ({"amount": Decimal("10.005")}, "bad_amount"),
        ({"receipt": None}, "receipt_required"),
        ({"extra": {"Bad-Key": "x"}}, "bad_extra"),
        ({"extra": {"invoice_id": "9"}}, "bad_extra"),
    ],
)
def test_requests_yookassa_would_refuse_are_refused_before_any_call(overrides, code):
    rig = make_rig()
    with pytest.raises(ProviderConfigError) as caught:
        rig.provider.issue_invoice(make_account(), make_request(**overrides))
    assert caught.value.code == code
    assert rig.fake.requests == []


def test_receipt_amount_must_match_the_invoice():
    rig = make_rig()
    request = make_request(receipt=make_receipt(amount=Decimal("1000.00")))
    with pytest.raises(ProviderConfigError) as caught:
        rig.provider.issue_invoice(make_account(), request)
    assert caught.value.code == "receipt_amount_mismatch"


def test_no_return_url_is_a_configuration_error():
    rig = make_rig(return_url="")
    with pytest.raises(ProviderConfigError) as caught:
        rig.provider.issue_invoice(make_account(), make_request())
    assert caught.value.code == "missing_return_url"


def test_a_lost_answer_is_repeated_with_the_same_key_and_creates_one_payment():
    rig = make_rig()
    rig.fake.fail_next(500, path_prefix="/payments", after=True)  # created, answer lost
    issued = rig.provider.issue_invoice(make_account(), make_request())

    assert len(rig.fake.payments) == 1
    assert issued.payment_id in rig.fake.payments
    keys = [q for m, p, q, _b in rig.fake.requests if m == "POST"]
    assert len(keys) == 2 and len(rig.slept) == 1


def test_issuing_the_same_invoice_again_returns_the_same_payment():
    rig = make_rig()
    first = rig.provider.issue_invoice(make_account(), make_request())
    again = rig.provider.issue_invoice(make_account(), make_request(expires_at=first.expires_at))
    # ``expires_at`` is not sent, so the body is the same: the key replays the first answer.
    assert again.payment_id == first.payment_id
    assert len(rig.fake.payments) == 1
    assert first.idempotence_key == "fp-inv-1042"


def test_rate_limit_and_202_are_waited_out_with_retry_after():
    rig = make_rig()
    rig.fake.fail_next(429, path_prefix="/payments")
    rig.fake.fail_next(202, path_prefix="/payments", retry_after=700)
    issued = rig.provider.issue_invoice(make_account(), make_request())
    assert issued.payment_id in rig.fake.payments
    assert len(rig.slept) == 2
    assert 0.7 <= rig.slept[1] <= 0.7 * 1.25


def test_no_answer_after_every_attempt_is_unavailable():
    rig = make_rig(max_attempts=2)
    rig.fake.fail_next(500, path_prefix="/payments", times=5)
    with pytest.raises(ProviderUnavailable):
        rig.provider.issue_invoice(make_account(), make_request())
    assert rig.fake.payments == {}


def test_wrong_secret_key_is_a_configuration_error():
    rig = make_rig()
    account = make_account(secrets={"secret_key": "test_wrong"})
    with pytest.raises(RequestRefused) as caught:
        rig.provider.issue_invoice(account, make_request())
    assert caught.value.code == "invalid_credentials" and caught.value.status == 401
    assert "test_wrong" not in str(caught.value)


def test_english_invoices_ask_for_the_english_page():
    rig = make_rig()
    rig.provider.issue_invoice(make_account(), make_request(culture="en"))
    assert _sent_bodies(rig.fake)[0]["confirmation"]["locale"] == "en_US"


def test_basic_auth_names_the_shop():
    rig = make_rig()
    rig.provider.issue_invoice(make_account(), make_request())
    payment = next(iter(rig.fake.payments.values()))
    assert payment["recipient"]["account_id"] == SHOP_ID
