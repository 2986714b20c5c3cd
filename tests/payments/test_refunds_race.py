"""Two refunds of one payment at the same moment (issue 15, item 3): they meet at the payment's
row lock. Outside the per-test transaction (a network of its own, committed), so that the two
requests run on two real connections as they would in production."""

from __future__ import annotations

import threading
from decimal import Decimal

from django.db import connection
from django.test import override_settings
from django_tenants.utils import tenant_context

from franchise_platform.payments.models import LinkKind, Refund
from franchise_platform.payments.refunds import RefundRefused, refund_request
from tests.factories import shop

from .helpers import deal_with_links
from .test_refunds import PASSWORD3, _pay, _register


def test_two_refunds_at_the_same_moment_never_exceed_the_payment(
    fresh_network, django_db_blocker, robokassa_server
):
    """Two owners ask for 1000 ₽ of a 1500 ₽ payment at once: they meet at the payment's row
    lock, one is reserved and sent, the other is refused."""
    options = {
        "robokassa": {
            "payment_url": robokassa_server.payment_url,
            "api_base_url": robokassa_server.api_base_url,
        }
    }
    with (
        override_settings(BILLING_PROVIDER_OPTIONS=options),
        django_db_blocker.unblock(),
        tenant_context(fresh_network.network),
    ):
        account = shop(password3=PASSWORD3)
        _register(robokassa_server, account)
        deal = deal_with_links(account.partner.locations.get())
        payment = _pay(robokassa_server, fresh_network, account, deal, LinkKind.PREPAYMENT)
        owner = fresh_network.owner.user()

    barrier = threading.Barrier(2)
    results: list[object] = []

    def ask():
        try:
            with (
                override_settings(BILLING_PROVIDER_OPTIONS=options),
                django_db_blocker.unblock(),
                tenant_context(fresh_network.network),
            ):
                barrier.wait(timeout=10)
                results.append(
                    refund_request(payment_id=payment.pk, amount=Decimal("1000"), user=owner)
                )
        except BaseException as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    refused = [r for r in results if isinstance(r, RefundRefused)]
    done = [r for r in results if not isinstance(r, BaseException)]
    assert len(done) == 1 and len(refused) == 1, results
    assert refused[0].code == "refund_exceeds_refundable"
    with django_db_blocker.unblock(), tenant_context(fresh_network.network):
        assert Refund.objects.filter(payment=payment).count() == 1
