"""The dummy provider refunds too (no network): any keyed operation, finished at once."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing_providers.base import (
    InvoiceState,
    InvoiceStatus,
    ProviderAccount,
    RefundRequest,
    RefundStatus,
)
from billing_providers.dummy.provider import DummyProvider
from billing_providers.errors import ProviderConfigError, ProviderResponseError
from billing_providers.robokassa.provider import RobokassaProvider

ACCOUNT = ProviderAccount(login="dev", secrets={"password2": "p2"})


def test_a_paid_dummy_operation_has_a_key_and_refunds_finish_at_once():
    provider = DummyProvider(states={})
    provider.set_state(
        ACCOUNT,
        InvoiceState(7, InvoiceStatus.PAID, Decimal("100"), datetime.now(UTC), "paid"),
    )
    key = provider.fetch_invoice_state(ACCOUNT, 7).operation_key
    assert key

    created = provider.refund_create(
        ACCOUNT, RefundRequest(operation_key=key, amount=Decimal("40"), full=False)
    )
    state = provider.refund_state(ACCOUNT, created.request_id)

    assert (state.status, state.amount) == (RefundStatus.FINISHED, Decimal("40"))


def test_the_dummy_refuses_a_refund_without_a_key_and_knows_no_other_ids():
    provider = DummyProvider(states={})
    with pytest.raises(ProviderConfigError):
        provider.refund_create(
            ACCOUNT, RefundRequest(operation_key="", amount=Decimal("1"), full=True)
        )
    with pytest.raises(ProviderResponseError):
        provider.refund_state(ACCOUNT, "nope")


def test_only_robokassa_needs_a_refund_secret():
    assert DummyProvider.supports_refunds and DummyProvider.refund_secret is None
    assert RobokassaProvider.supports_refunds and RobokassaProvider.refund_secret == "password3"
