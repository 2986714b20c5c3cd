"""RobokassaProvider against the fake Robokassa over real HTTP: issue → open the payment page →
pay → ResultURL received and verified by the shop → OpStateExt."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
import pytest

from billing_providers.base import (
    CallbackVerdict,
    InvoiceStatus,
    IssuedInvoice,
    PaymentKind,
    ProviderAccount,
)
from billing_providers.errors import (
    ProviderConfigError,
    ProviderResponseError,
    ProviderUnavailable,
)
from billing_providers.robokassa.provider import RobokassaProvider
from billing_providers.robokassa.receipts import SettlementReceiptRequest
from tests.billing_providers.factories import (
    ALGORITHMS,
    PASSWORD1,
    PASSWORD2,
    TEST_PASSWORD1,
    TEST_PASSWORD2,
    make_account,
    make_receipt,
    make_request,
)
from tests.billing_providers.receiver import CallbackReceiver
from tests.fakes.robokassa import FakeRobokassa

browser = httpx.Client(timeout=10)  # the buyer's browser and other outside callers


@dataclass
class Shop:
    """The shop side: what the core does with a ResultURL request, minus the database."""

    provider: RobokassaProvider
    account: ProviderAccount
    invoices: dict[int, IssuedInvoice] = field(default_factory=dict)
    verdicts: list[CallbackVerdict] = field(default_factory=list)
    fail_next: int = 0

    def handle(self, params: dict[str, str]) -> tuple[int, str, str]:
        if self.fail_next:
            self.fail_next -= 1
            return 500, "database is down", "text/plain"
        invoice_id = self.provider.callback_invoice_id(params)
        invoice = self.invoices.get(invoice_id) if invoice_id is not None else None
        verdict = self.provider.verify_callback(
            self.account, params, expected_amount=invoice.amount if invoice else None
        )
        if invoice is None and verdict.accepted:
            verdict = CallbackVerdict(False, invoice_id, verdict.amount, verdict.is_test)
        self.verdicts.append(verdict)
        body, content_type = self.provider.acknowledge(verdict)
        return (200 if verdict.accepted else 400), body, content_type

    def issue(self, **request_overrides) -> IssuedInvoice:
        issued = self.provider.issue_invoice(self.account, make_request(**request_overrides))
        self.invoices[issued.invoice_id] = issued
        return issued


@pytest.fixture
def fake() -> Iterator[FakeRobokassa]:
    with FakeRobokassa() as server:
        yield server


def _provider(fake: FakeRobokassa, **options) -> RobokassaProvider:
    return RobokassaProvider(
        payment_url=fake.payment_url,
        api_base_url=fake.api_base_url,
        fiscal_base_url=fake.fiscal_base_url,
        **options,
    )


@pytest.fixture
def shop_factory(fake: FakeRobokassa):
    receivers: list[CallbackReceiver] = []

    def make(algorithm: str = "md5", **account_overrides) -> Shop:
        account = make_account(hash_algorithm=algorithm, **account_overrides)
        shop = Shop(_provider(fake), account)
        receiver = CallbackReceiver(shop.handle).__enter__()
        receivers.append(receiver)
        fake.register_shop(
            account.login,
            PASSWORD1,
            PASSWORD2,
            TEST_PASSWORD1,
            TEST_PASSWORD2,
            hash_algorithm=algorithm,
            result_url=receiver.url,
        )
        return shop

    yield make
    for receiver in receivers:
        receiver.__exit__(None, None, None)


def _open(issued: IssuedInvoice) -> httpx.Response:
    response = browser.get(issued.payment_url)
    assert response.status_code == 200
    assert "X-Robokassa-Error" not in response.headers, response.text
    return response


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_live_payment_end_to_end(fake, shop_factory, algorithm):
    shop = shop_factory(algorithm)
    issued = shop.issue(invoice_id=5001, amount=Decimal("1500.00"))

    _open(issued)
    assert fake.invoice(shop.account.login, 5001).out_sum_raw == "1500.00"
    delivery = fake.pay(shop.account.login, 5001)

    assert delivery is not None
    assert (delivery.status, delivery.body) == (200, "OK5001")
    assert delivery.form["OutSum"] == "1500.000000"
    assert delivery.form["SignatureValue"].isupper()
    (verdict,) = shop.verdicts
    assert verdict.accepted
    assert verdict.amount == Decimal("1500.00")
    assert dict(verdict.extra) == {"plan": "pro", "user": "42"}
    assert verdict.email == "buyer@example.com"

    state = shop.provider.fetch_invoice_state(shop.account, 5001)
    assert state.status is InvoiceStatus.PAID
    assert state.amount == Decimal("1500.00")
    assert state.paid_at is not None
    assert state.operation_key


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_test_mode_payment_with_receipt_end_to_end(fake, shop_factory, algorithm):
    shop = shop_factory(algorithm, test_mode=True, fiscalization=True)
    receipt = make_receipt(
        amount=Decimal("450.00"),
        payment_kind=PaymentKind.PREPAYMENT,
        vat="vat22",
        tax_system="osn",
        item_name="Предоплата: квест «Тайная комната»",
    )
    issued = shop.issue(invoice_id=5002, amount=Decimal("450.00"), receipt=receipt)

    _open(issued)
    stored = fake.invoice(shop.account.login, 5002)
    assert stored.is_test
    assert stored.receipt is not None
    assert stored.receipt["items"][0]["tax"] == "vat122"
    delivery = fake.pay(shop.account.login, 5002)

    assert delivery is not None
    assert delivery.body == "OK5002"
    assert delivery.form["IsTest"] == "1"
    assert "EMail" not in delivery.form
    assert shop.verdicts[0].is_test


def test_paying_through_the_page_flag(fake, shop_factory):
    shop = shop_factory()
    issued = shop.issue(invoice_id=5003)
    page = browser.get(issued.payment_url + "&fake_action=pay")
    assert "ResultURL answered 200" in page.text
    assert fake.deliveries[-1].body == "OK5003"


def test_post_form_is_accepted_like_the_link(fake, shop_factory):
    shop = shop_factory(fiscalization=True)
    issued = shop.issue(invoice_id=5004, receipt=make_receipt())
    response = browser.post(issued.form_action, data=dict(issued.form_fields))
    assert "X-Robokassa-Error" not in response.headers, response.text
    assert fake.invoice(shop.account.login, 5004).receipt is not None


def test_tampered_link_gets_error_29(fake, shop_factory):
    shop = shop_factory()
    issued = shop.issue(invoice_id=5005)
    response = browser.get(issued.payment_url.replace("OutSum=1500.00", "OutSum=15.00"))
    assert response.headers["X-Robokassa-Error"] == "29"
    assert "SignatureValue" in response.text
    assert (shop.account.login, 5005) not in fake.invoices


def test_link_signed_with_the_wrong_password_gets_error_29(fake, shop_factory):
    shop = shop_factory()
    wrong = make_account(secrets={"password1": "not-the-real-one"})
    issued = shop.provider.issue_invoice(wrong, make_request(invoice_id=5006))
    assert browser.get(issued.payment_url).headers["X-Robokassa-Error"] == "29"


def test_lost_callback_is_found_by_op_state_ext(fake, shop_factory):
    shop = shop_factory()
    shop.issue(invoice_id=5007)
    _open(shop.invoices[5007])
    assert shop.provider.fetch_invoice_state(shop.account, 5007).status is (
        InvoiceStatus.NOT_FOUND  # viewed only: no operation yet
    )

    assert fake.pay(shop.account.login, 5007, notify=False) is None

    assert shop.verdicts == []
    assert shop.provider.fetch_invoice_state(shop.account, 5007).status is InvoiceStatus.PAID


@pytest.mark.parametrize(
    ("code", "status"),
    [(5, InvoiceStatus.PENDING), (10, InvoiceStatus.CANCELLED), (60, InvoiceStatus.REFUNDED)],
)
def test_intermediate_states_through_the_fake(fake, shop_factory, code, status):
    shop = shop_factory()
    _open(shop.issue(invoice_id=5008))
    fake.set_state(shop.account.login, 5008, code)
    assert shop.provider.fetch_invoice_state(shop.account, 5008).status is status


def test_viewed_invoices_can_show_as_initialised(fake, shop_factory):
    shop = shop_factory()
    fake.viewed_invoice_state = 5
    _open(shop.issue(invoice_id=5014))
    assert shop.provider.fetch_invoice_state(shop.account, 5014).status is InvoiceStatus.PENDING


def test_result_url_is_retried_until_ok(fake, shop_factory):
    shop = shop_factory()
    _open(shop.issue(invoice_id=5009))
    fake.result_attempts = 3
    shop.fail_next = 1

    delivery = fake.pay(shop.account.login, 5009)

    assert delivery is not None
    assert (delivery.attempt, delivery.body) == (2, "OK5009")
    assert [d.status for d in fake.deliveries] == [500, 200]


def test_repeated_notification_is_acknowledged_again(fake, shop_factory):
    shop = shop_factory()
    _open(shop.issue(invoice_id=5010))
    fake.pay(shop.account.login, 5010)
    again = fake.deliver_result(shop.account.login, 5010)
    assert again.body == "OK5010"


def test_forged_and_wrong_amount_callbacks_are_refused(fake, shop_factory):
    shop = shop_factory()
    _open(shop.issue(invoice_id=5011, amount=Decimal("1500.00")))
    receiver_url = fake.shops[shop.account.login].result_url

    forged = fake.build_result_callback(shop.account.login, 5011, "1500.000000", password2="x")
    response = browser.post(receiver_url, data=forged)
    assert response.status_code == 400
    assert response.text.startswith("ERROR bad_signature")

    cheap = fake.build_result_callback(
        shop.account.login, 5011, "1.000000", shp={"Shp_plan": "pro", "Shp_user": "42"}
    )
    response = browser.post(receiver_url, data=cheap)
    assert response.status_code == 400
    assert "amount_mismatch" in response.text


def test_get_result_method_works_too(fake, shop_factory):
    shop = shop_factory()
    fake.shops[shop.account.login].result_method = "GET"
    _open(shop.issue(invoice_id=5012))
    assert fake.pay(shop.account.login, 5012).body == "OK5012"


def test_op_state_ext_failures(fake, shop_factory):
    shop = shop_factory()
    fake.op_state_http_status = 500
    with pytest.raises(ProviderUnavailable):
        shop.provider.fetch_invoice_state(shop.account, 1)
    fake.op_state_http_status = None

    fake.op_state_result_code = 4
    with pytest.raises(ProviderResponseError) as caught:
        shop.provider.fetch_invoice_state(shop.account, 1)
    assert caught.value.code == "duplicate_invoice"
    fake.op_state_result_code = None

    wrong = make_account(secrets={"password2": "not-the-real-one"})
    with pytest.raises(ProviderConfigError) as config_error:
        shop.provider.fetch_invoice_state(wrong, 1)
    assert config_error.value.code == "bad_signature"

    stranger = make_account(login="unknown-shop")
    with pytest.raises(ProviderConfigError) as unknown:
        shop.provider.fetch_invoice_state(stranger, 1)
    assert unknown.value.code == "shop_not_found"


def test_op_state_ext_timeout(fake, shop_factory):
    shop = shop_factory()
    fake.op_state_delay = 1.0
    slow = _provider(fake, timeout=0.2)
    with pytest.raises(ProviderUnavailable) as caught:
        slow.fetch_invoice_state(shop.account, 1)
    assert caught.value.code == "timeout"


def test_unreachable_robokassa_is_unavailable():
    with FakeRobokassa() as gone:
        provider = _provider(gone)
    with pytest.raises(ProviderUnavailable) as caught:
        provider.fetch_invoice_state(make_account(), 1)
    assert caught.value.code == "network_error"


def test_settlement_receipt_end_to_end(fake, shop_factory):
    shop = shop_factory(fiscalization=True)
    fake.add_history(shop.account.login, 5013, "1200.00")  # the paid operation being settled
    request = SettlementReceiptRequest(
        receipt_id=900001,
        origin_invoice_id=5013,
        tax_system="osn",
        vat="vat20",
        item_name="Участие в квесте «Тайная комната»",
        amount=Decimal("1200.00"),
        site_url="https://chezaquest.example/",
        email="buyer@example.ru",
    )
    result = shop.provider.send_settlement_receipt(shop.account, request)
    assert result.accepted
    assert result.result_code == "0"
    (payload,) = fake.attached_receipts
    assert payload["items"][0]["name"] == "Участие в квесте «Тайная комната»"
    assert payload["vats"] == [{"type": "vat20", "sum": Decimal("200")}]

    wrong = make_account(secrets={"password1": "not-the-real-one"})
    refused = shop.provider.send_settlement_receipt(wrong, request)
    assert not refused.accepted
    assert refused.result_code == "3"
