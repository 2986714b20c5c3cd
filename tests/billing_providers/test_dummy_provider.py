"""The dummy provider used for local development."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from billing_providers.base import InvoiceState, InvoiceStatus
from billing_providers.dummy.provider import DummyProvider
from billing_providers.errors import ProviderConfigError
from tests.billing_providers.factories import PASSWORD2, make_account, make_request


@pytest.fixture
def dummy() -> DummyProvider:
    return DummyProvider(states={})


def test_issues_a_signed_local_link(dummy):
    issued = dummy.issue_invoice(make_account(), make_request(invoice_id=7, amount=Decimal("99")))
    url = urlsplit(issued.payment_url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == "http://dummy.invalid/pay"
    query = parse_qs(url.query)
    assert query["inv"] == ["7"]
    assert query["sum"] == ["99.00"]
    assert len(query["sig"][0]) == 64
    assert PASSWORD2 not in issued.payment_url
    custom = DummyProvider(payment_url="http://localhost:8000/dev/pay", states={})
    assert custom.issue_invoice(make_account(), make_request()).payment_url.startswith(
        "http://localhost:8000/dev/pay?inv="
    )


def test_the_payment_link_carries_the_custom_fields_under_its_signature(dummy):
    """The buyer's page gets the marker to echo in the callback; a changed field is refused."""
    account = make_account()
    issued = dummy.issue_invoice(
        account, make_request(invoice_id=8, amount=Decimal("150"), extra={"mark": "ab12"})
    )
    params = {k: v[0] for k, v in parse_qs(urlsplit(issued.payment_url).query).items()}
    assert params["x_mark"] == "ab12"
    assert dummy.payment_page_request(account, params) == (8, Decimal("150.00"), {"mark": "ab12"})
    for change in ({"x_mark": "ab13"}, {"sum": "1.00"}, {"sig": "0" * 64}, {"inv": "x"}):
        assert dummy.payment_page_request(account, {**params, **change}) is None


def test_callback_round_trip_and_state(dummy):
    account = make_account()
    params = dummy.callback_params(account, 7, Decimal("99.00"), extra={"order": "42"})
    assert dummy.callback_invoice_id(params) == 7
    assert dummy.fetch_invoice_state(account, 7).status is InvoiceStatus.PENDING

    verdict = dummy.verify_callback(account, params, expected_amount=Decimal("99"))

    assert verdict.accepted
    assert dict(verdict.extra) == {"order": "42"}
    assert dummy.acknowledge(verdict) == ("OK7", "text/plain")
    assert dummy.fetch_invoice_state(account, 7).status is InvoiceStatus.PAID


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"sig": "0" * 64}, "bad_signature"),
        ({"sum": "1.00"}, "bad_signature"),
        ({"x_order": "43"}, "bad_signature"),
        ({"inv": "x"}, "bad_invoice_id"),
        ({"sum": "abc"}, "bad_amount"),
        ({"sig": ""}, "missing_field"),
    ],
)
def test_bad_callbacks_are_refused(dummy, change, code):
    account = make_account()
    params = {**dummy.callback_params(account, 7, Decimal("99"), {"order": "42"}), **change}
    verdict = dummy.verify_callback(account, params, expected_amount=None)
    assert verdict.reason_code == code
    assert dummy.acknowledge(verdict)[0].startswith("ERROR")


def test_amount_mismatch_and_missing_secret(dummy):
    account = make_account()
    params = dummy.callback_params(account, 7, Decimal("99"))
    assert (
        dummy.verify_callback(account, params, expected_amount=Decimal("100")).reason_code
        == "amount_mismatch"
    )
    no_secret = make_account(secrets={})
    assert (
        dummy.verify_callback(no_secret, params, expected_amount=None).reason_code
        == "not_configured"
    )
    with pytest.raises(ProviderConfigError):
        dummy.issue_invoice(no_secret, make_request())


def test_set_state_simulates_a_lost_callback(dummy):
    account = make_account()
    dummy.set_state(
        account,
        InvoiceState(
            invoice_id=9, status=InvoiceStatus.PAID, amount=Decimal("5"), paid_at=None, raw_code="x"
        ),
    )
    assert dummy.fetch_invoice_state(account, 9).status is InvoiceStatus.PAID
    assert dummy.fetch_invoice_state(make_account(login="other"), 9).status is (
        InvoiceStatus.PENDING
    )
