"""Status polling, refunds and settlement receipts against the strict fake YooKassa."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from billing_providers.base import (
    InvoiceStatus,
    ReceiptStatus,
    RefundItem,
    RefundRequest,
    RefundStatus,
    SettlementReceiptRequest,
)
from billing_providers.errors import ProviderConfigError, ProviderResponseError
from billing_providers.yookassa.refunds import YooKassaRefundRequest
from tests.billing_providers.yookassa_factories import make_account, make_request, make_rig


@pytest.fixture
def rig():
    return make_rig()


def _paid(rig, invoice_id=1042, amount=Decimal("1500.00")):
    issued = rig.provider.issue_invoice(
        make_account(), make_request(invoice_id=invoice_id, amount=amount)
    )
    rig.stored.payments[invoice_id] = issued.payment_id
    rig.fake.pay(issued.payment_id)
    return issued


# status -------------------------------------------------------------------------------------


def test_state_follows_the_payment_through_its_statuses(rig):
    issued = rig.provider.issue_invoice(make_account(), make_request())
    rig.stored.payments[1042] = issued.payment_id
    state = rig.provider.fetch_invoice_state(make_account(), 1042)
    assert state.status is InvoiceStatus.PENDING and state.paid_at is None

    rig.fake.pay(issued.payment_id)
    state = rig.provider.fetch_invoice_state(make_account(), 1042)
    assert state.status is InvoiceStatus.PAID
    assert state.amount == Decimal("1500.00") and state.paid_at is not None
    assert state.operation_key == issued.payment_id  # what refunds need
    assert state.payment_method == "bank_card" and state.extra == {"mark": "a1b2c3d4"}


def test_a_declined_payment_is_cancelled_with_its_reason(rig):
    issued = rig.provider.issue_invoice(make_account(), make_request())
    rig.stored.payments[1042] = issued.payment_id
    rig.fake.decline(issued.payment_id, "3d_secure_failed")
    state = rig.provider.fetch_invoice_state(make_account(), 1042)
    assert state.status is InvoiceStatus.CANCELLED
    assert state.extra["cancellation_reason"] == "3d_secure_failed"


def test_an_invoice_never_issued_is_not_found(rig):
    assert rig.provider.fetch_invoice_state(make_account(), 9).status is InvoiceStatus.NOT_FOUND


def test_a_payment_created_before_its_id_was_stored_is_still_found(rig):
    # The core crashed between YooKassa's answer and saving the id: nothing is stored.
    issued = rig.provider.issue_invoice(make_account(), make_request())
    rig.fake.pay(issued.payment_id)
    state = rig.provider.fetch_invoice_state(make_account(), 1042)
    assert state.status is InvoiceStatus.PAID and state.operation_key == issued.payment_id


def test_without_references_the_payment_is_found_by_scanning_metadata():
    rig = make_rig(references=None)
    for number in range(1, 4):
        rig.provider.issue_invoice(make_account(), make_request(invoice_id=number))
    wanted = rig.provider.issue_invoice(make_account(), make_request(invoice_id=50))
    for number in range(4, 7):
        rig.provider.issue_invoice(make_account(), make_request(invoice_id=number))
    rig.fake.pay(wanted.payment_id)
    rig.provider.lookup_max_pages = 5
    # Pages of 100 in production; a small page here proves the cursor is followed.
    original = rig.provider.client.list_payments
    rig.provider.client.list_payments = lambda c, p: original(c, {**p, "limit": "2"})

    state = rig.provider.fetch_invoice_state(make_account(), 50)
    assert state.status is InvoiceStatus.PAID and state.operation_key == wanted.payment_id
    assert rig.provider.fetch_invoice_state(make_account(), 999).status is InvoiceStatus.NOT_FOUND


# refunds ------------------------------------------------------------------------------------


def test_a_full_refund_carries_no_receipt_and_finishes(rig):
    issued = _paid(rig)
    state = rig.provider.fetch_invoice_state(make_account(), 1042)
    created = rig.provider.refund_create(
        make_account(),
        RefundRequest(operation_key=state.operation_key, amount=Decimal("1500.00"), full=True),
    )
    body = json.loads(rig.fake.requests[-1][3])
    assert body == {
        "payment_id": issued.payment_id,
        "amount": {"value": "1500.00", "currency": "RUB"},
    }
    refund = rig.provider.refund_state(make_account(), created.request_id)
    assert refund.status is RefundStatus.FINISHED and refund.amount == Decimal("1500.00")
    assert rig.provider.fetch_invoice_state(make_account(), 1042).status is InvoiceStatus.REFUNDED


def test_a_partial_refund_mirrors_the_receipt_and_is_idempotent_by_key(rig):
    issued = _paid(rig)
    request = YooKassaRefundRequest(
        operation_key=issued.payment_id,
        amount=Decimal("500.00"),
        full=False,
        items=(RefundItem("Консультация", Decimal("500.00"), "none", "full_prepayment"),),
        idempotence_key="refund-7f3c",
        email="client@example.com",
        tax_system="usn_income",
        invoice_id=1042,
        description="Частичный возврат по счёту 1042",
    )
    first = rig.provider.refund_create(make_account(), request)
    again = rig.provider.refund_create(make_account(), request)
    assert first == again and len(rig.fake.refunds) == 1
    body = json.loads(rig.fake.requests[-1][3])
    assert body["receipt"]["items"][0]["payment_mode"] == "full_prepayment"
    assert body["receipt"]["items"][0]["vat_code"] == 1
    assert body["receipt"]["tax_system_code"] == 2
    assert body["metadata"] == {"invoice_id": "1042"}
    assert rig.fake.payment(issued.payment_id)["refunded_amount"]["value"] == "500.00"
    assert rig.provider.fetch_invoice_state(make_account(), 1042).status is InvoiceStatus.PAID


def test_the_same_refund_key_with_other_data_is_refused(rig):
    issued = _paid(rig)
    make = lambda amount: YooKassaRefundRequest(  # noqa: E731
        operation_key=issued.payment_id, amount=amount, full=False, idempotence_key="rf-1"
    )
    rig.fake.shops["100500"].fiscalization = False
    rig.provider.refund_create(make_account(), make(Decimal("100.00")))
    with pytest.raises(ProviderResponseError) as caught:
        rig.provider.refund_create(make_account(), make(Decimal("200.00")))
    assert caught.value.code == "refund_refused"
    assert "Idempotence key duplicated" in caught.value.message


def test_refunding_more_than_is_left_is_refused(rig):
    issued = _paid(rig)
    rig.fake.shops["100500"].fiscalization = False
    rig.provider.refund_create(
        make_account(),
        RefundRequest(operation_key=issued.payment_id, amount=Decimal("1000.00"), full=False),
    )
    with pytest.raises(ProviderResponseError) as caught:
        rig.provider.refund_create(
            make_account(),
            RefundRequest(operation_key=issued.payment_id, amount=Decimal("600.00"), full=False),
        )
    assert caught.value.code == "refund_refused"


def test_a_partial_refund_receipt_needs_the_buyers_contact(rig):
    issued = _paid(rig)
    request = RefundRequest(
        operation_key=issued.payment_id,
        amount=Decimal("500.00"),
        full=False,
        items=(RefundItem("Консультация", Decimal("500.00"), "none", "prepayment"),),
    )
    with pytest.raises(ProviderConfigError) as caught:
        rig.provider.refund_create(make_account(), request)
    assert caught.value.code == "no_contact"


def test_a_pending_refund_is_processing_until_it_succeeds(rig):
    issued = _paid(rig)
    rig.fake.refund_status = "pending"
    rig.fake.refund_pending_polls = 2
    created = rig.provider.refund_create(
        make_account(),
        RefundRequest(operation_key=issued.payment_id, amount=Decimal("1500.00"), full=True),
    )
    assert (
        rig.provider.refund_state(make_account(), created.request_id).status
        is RefundStatus.PROCESSING
    )
    assert (
        rig.provider.refund_state(make_account(), created.request_id).status
        is RefundStatus.FINISHED
    )


def test_an_unknown_refund_is_refund_not_found(rig):
    with pytest.raises(ProviderResponseError) as caught:
        rig.provider.refund_state(make_account(), "2f8c11d4-0015-5000-9000-1c2d3e4f5a6b")
    assert caught.value.code == "refund_not_found"


# settlement receipts ------------------------------------------------------------------------


def _settlement(receipt_id=501, **overrides):
    values = {
        "receipt_id": receipt_id,
        "origin_invoice_id": 1042,
        "tax_system": "usn_income",
        "vat": "vat22",
        "item_name": "Консультация",
        "amount": Decimal("1500.00"),
        "site_url": "https://platform.example/",
        "email": "client@example.com",
    }
    values.update(overrides)
    return SettlementReceiptRequest(**values)


def test_settlement_receipt_offsets_the_prepayment_then_registers(rig):
    issued = _paid(rig)
    result = rig.provider.send_settlement_receipt(make_account(), _settlement())
    assert result.accepted and result.status is ReceiptStatus.ACCEPTED
    assert result.operation_key.startswith("rt-")
    body = json.loads(rig.fake.requests[-1][3])
    assert body["type"] == "payment" and body["payment_id"] == issued.payment_id
    assert body["send"] is True
    assert body["items"][0]["payment_mode"] == "full_payment"
    assert body["items"][0]["vat_code"] == 11  # the nominal 22 %
    assert body["settlements"] == [
        {"type": "prepayment", "amount": {"value": "1500.00", "currency": "RUB"}}
    ]

    rig.stored.receipts[501] = result.operation_key
    state = rig.provider.fetch_settlement_receipt_state(make_account(), 501)
    assert state.status is ReceiptStatus.REGISTERED
    assert state.fiscal["fiscal_document_number"] == "3986"


def test_resending_the_same_settlement_receipt_returns_the_same_one(rig):
    _paid(rig)
    first = rig.provider.send_settlement_receipt(make_account(), _settlement())
    again = rig.provider.send_settlement_receipt(make_account(), _settlement())
    assert first.operation_key == again.operation_key and len(rig.fake.receipts) == 1


def test_a_refused_settlement_receipt_is_failed(rig):
    issued = _paid(rig)
    rig.fake.receipts.update({f"rt-{n}": {"payment_id": issued.payment_id} for n in range(30)})
    result = rig.provider.send_settlement_receipt(make_account(), _settlement())
    assert not result.accepted and result.status is ReceiptStatus.FAILED
    assert "30" in (result.description or "")


def test_a_receipt_the_register_cannot_fiscalize_is_failed(rig):
    _paid(rig)
    rig.fake.receipt_registration_error = True
    result = rig.provider.send_settlement_receipt(make_account(), _settlement())
    rig.stored.receipts[501] = result.operation_key
    state = rig.provider.fetch_settlement_receipt_state(make_account(), 501)
    assert not state.accepted and state.status is ReceiptStatus.FAILED


def test_receipt_state_needs_the_stored_id(rig):
    with pytest.raises(ProviderConfigError) as caught:
        rig.provider.fetch_settlement_receipt_state(make_account(), 501)
    assert caught.value.code == "missing_reference"


def test_settlement_for_an_invoice_without_payment_is_refused(rig):
    with pytest.raises(ProviderConfigError) as caught:
        rig.provider.send_settlement_receipt(make_account(), _settlement(origin_invoice_id=5))
    assert caught.value.code == "missing_payment"


def test_shop_info_tells_test_shops_and_fiscalization(rig):
    info = rig.provider.shop_info(make_account())
    assert info.shop_id == "100500" and info.test and info.fiscalization and info.enabled
    assert info.fiscal_provider == "avanpost"
