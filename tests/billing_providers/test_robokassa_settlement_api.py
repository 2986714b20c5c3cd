"""The second-receipt API through the adapter against the strict fake (fiscal.md §2):
Attach's rules and limit, and Status until the receipt is registered."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

import pytest

from billing_providers.base import ReceiptStatus, SettlementReceiptRequest
from billing_providers.errors import ProviderConfigError, ProviderUnavailable
from billing_providers.robokassa.provider import RobokassaProvider
from tests.billing_providers.factories import PASSWORD1, PASSWORD2, make_account
from tests.fakes.robokassa import FakeRobokassa

LOGIN = "settle-shop"


@pytest.fixture
def fake() -> Iterator[FakeRobokassa]:
    with FakeRobokassa() as server:
        server.register_shop(LOGIN, PASSWORD1, PASSWORD2, hash_algorithm="md5")
        server.add_history(LOGIN, 100501, "1500.00")
        yield server


@pytest.fixture
def provider(fake: FakeRobokassa) -> RobokassaProvider:
    return RobokassaProvider(
        payment_url=fake.payment_url,
        api_base_url=fake.api_base_url,
        fiscal_base_url=fake.fiscal_base_url,
    )


ACCOUNT = make_account(login=LOGIN, fiscalization=True)
REQUEST = SettlementReceiptRequest(
    receipt_id=1_000_000_000_001,
    origin_invoice_id=100501,
    tax_system="osn",
    vat="vat22",
    item_name="Квест «Тайна замка», 12.12.2026 19:00",
    amount=Decimal("1500.00"),
    site_url="https://quest.example.ru/",
    email="buyer@example.ru",
)


def test_accepted_then_registered_with_fiscal_attributes(fake, provider):
    fake.receipt_pending_polls = 1
    sent = provider.send_settlement_receipt(ACCOUNT, REQUEST)
    assert (sent.status, sent.result_code) == (ReceiptStatus.ACCEPTED, "0")
    (payload,) = fake.settlement_receipts(LOGIN)
    assert payload["vats"] == [{"type": "vat22", "sum": Decimal("270.49")}]
    waiting = provider.fetch_settlement_receipt_state(ACCOUNT, REQUEST.receipt_id)
    assert waiting.status is ReceiptStatus.ACCEPTED and waiting.result_code == "1"
    done = provider.fetch_settlement_receipt_state(ACCOUNT, REQUEST.receipt_id)
    assert done.status is ReceiptStatus.REGISTERED
    assert done.fiscal["FnNumber"] and done.fiscal["FiscalDocumentNumber"]


def test_second_settlement_of_one_operation_is_refused(fake, provider):
    assert provider.send_settlement_receipt(ACCOUNT, REQUEST).accepted
    again = provider.send_settlement_receipt(
        ACCOUNT, replace(REQUEST, receipt_id=REQUEST.receipt_id + 1)
    )
    assert again.status is ReceiptStatus.FAILED
    assert "two receipts" in (again.description or "")
    assert len(fake.settlement_receipts(LOGIN)) == 1


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"origin_invoice_id": 777}, "not a paid operation"),
        ({"amount": Decimal("1500.01")}, "exceeds the operation"),
    ],
)
def test_attach_refusals(fake, provider, overrides, reason):
    result = provider.send_settlement_receipt(ACCOUNT, replace(REQUEST, **overrides))
    assert result.status is ReceiptStatus.FAILED
    assert reason in (result.description or "")
    assert fake.settlement_receipts(LOGIN) == []


def test_wrong_password_is_a_failed_receipt(fake, provider):
    wrong = make_account(login=LOGIN, secrets={"password1": "nope", "password2": "x"})
    assert provider.send_settlement_receipt(wrong, REQUEST).description == "bad signature"


def test_receipt_without_contact_is_refused_before_any_call(fake, provider):
    with pytest.raises(ProviderConfigError) as caught:
        provider.send_settlement_receipt(ACCOUNT, replace(REQUEST, email=None))
    assert caught.value.code == "no_contact"
    assert not any(r.path.startswith("/RoboFiscal") for r in fake.requests)


def test_status_of_unknown_receipt_and_registration_error(fake, provider):
    assert provider.fetch_settlement_receipt_state(ACCOUNT, 42).status is ReceiptStatus.FAILED
    fake.receipt_registration_error = "ФН переполнен"
    provider.send_settlement_receipt(ACCOUNT, REQUEST)
    failed = provider.fetch_settlement_receipt_state(ACCOUNT, REQUEST.receipt_id)
    assert (failed.status, failed.description) == (ReceiptStatus.FAILED, "ФН переполнен")


def test_server_error_is_retryable(fake, provider):
    fake.receipt_attach_http_status = 503
    with pytest.raises(ProviderUnavailable):
        provider.send_settlement_receipt(ACCOUNT, REQUEST)
