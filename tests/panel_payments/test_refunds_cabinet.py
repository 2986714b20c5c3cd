"""A refund made in Robokassa's cabinet (issue 15, item 3): the whole payment is noticed by the
watch (State 60); a part of it is not visible through the API (fiscal.md §5), so an owner or
admin enters it on the deal page. That records the same refund (finished, nothing sent to
Robokassa), recomputes the deal and updates the lead once; the watch then only adds the rest."""

from __future__ import annotations

from decimal import Decimal

import pytest

from franchise_platform.crm_sync.models import OutboxMessage
from franchise_platform.flows.refund import paid_invoices_watch, refund_cabinet_record
from franchise_platform.payments.models import Invoice, Payment, Refund
from franchise_platform.payments.refunds import RefundRefused
from franchise_platform.security.models import AuditEntry
from tests.payments.test_refunds import fake, paid  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def _url(deal, payment):
    return f"/panel/deals/{deal.pk}/payments/{payment.pk}/refund-cabinet/"


def _messages(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def _refund_api_calls(fake, since=0):  # noqa: F811
    """Refund API requests the (session-wide) fake received after the `since`-th request."""
    return [r for r in fake.requests[since:] if "/RefundService/" in r.path]


def _watch_again(payment):
    Invoice.objects.filter(pk=payment.invoice_id).update(last_checked_at=None)
    return paid_invoices_watch()


def test_a_partial_cabinet_refund_is_entered_by_the_owner_and_taken_in_once(
    in_network,
    fake,  # noqa: F811
    paid,  # noqa: F811
):
    account, deal, payment = paid
    before = len(fake.requests)
    fake.cabinet_refund(account.merchant_login, payment.invoice_id, "500")
    assert _watch_again(payment) == 0  # State 100 still: the API cannot reveal it

    panel = in_network.owner.browser_client()
    page = panel.get(f"/panel/deals/{deal.pk}/")
    assert f'id="refund-cabinet-{payment.pk}"' in page.content.decode()
    form = {"amount": "500", "confirm": "ВОЗВРАТ", "key": "c1"}
    response = panel.post(_url(deal, payment), form, follow=True)

    assert any("внесён" in m for m in _messages(response))
    refund = Refund.objects.get()
    assert (refund.source, refund.status, refund.amount, refund.receipt, refund.applied) == (
        "cabinet",
        "finished",
        Decimal("500.00"),
        "manual",
        True,
    )
    assert refund.requested_by == in_network.owner.email
    deal.refresh_from_db()
    assert (deal.status, deal.paid, deal.refunded) == (
        "partially_refunded",
        Decimal("1000.00"),
        Decimal("500.00"),
    )
    assert not _refund_api_calls(fake, before)
    # The lead: its state once, one note naming the cabinet.
    assert OutboxMessage.objects.filter(kind="deal_state", deal=deal).count() == 1
    note = OutboxMessage.objects.get(dedupe_key=f"note:refund:{refund.pk}")
    assert "в личном кабинете" in note.payload["text"]
    entry = AuditEntry.objects.get(action="refund.cabinet_recorded")
    assert entry.actor == in_network.owner.email
    assert entry.changes["amount"] == [None, "500.00"]

    # The same form submitted again: nothing new.
    panel.post(_url(deal, payment), form)
    assert Refund.objects.count() == 1
    assert AuditEntry.objects.filter(action="refund.cabinet_recorded").count() == 1


def test_the_rest_returned_in_the_cabinet_later_is_noticed_as_the_rest_only(
    in_network,
    fake,  # noqa: F811
    paid,  # noqa: F811
):
    account, deal, payment = paid
    fake.cabinet_refund(account.merchant_login, payment.invoice_id, "500")
    refund_cabinet_record(
        payment_id=payment.pk, amount="500", confirm="500", user=in_network.admin.user()
    )
    fake.cabinet_refund(account.merchant_login, payment.invoice_id)  # the other 1000: State 60

    assert _watch_again(payment) == 1
    assert sorted(Refund.objects.values_list("source", "amount")) == [
        ("cabinet", Decimal("500.00")),
        ("provider", Decimal("1000.00")),
    ]
    deal.refresh_from_db()
    assert (deal.status, deal.paid, deal.refunded) == (
        "refunded",
        Decimal("0.00"),
        Decimal("1500.00"),
    )


def test_more_than_is_left_is_refused_and_nothing_changes(in_network, fake, paid):  # noqa: F811
    _, deal, payment = paid
    response = in_network.owner.browser_client().post(
        _url(deal, payment), {"amount": "1500.01", "confirm": "1500.01", "key": "c2"}, follow=True
    )
    assert any("не больше 1500.00" in m for m in _messages(response))
    assert not Refund.objects.exists()
    deal.refresh_from_db()
    assert (deal.status, deal.paid) == ("partially_paid", Decimal("1500.00"))
    assert not AuditEntry.objects.filter(action="refund.cabinet_recorded").exists()


@pytest.mark.parametrize("typed", ["", "да", "499", "ВОЗВРА"])
def test_without_the_typed_confirmation_nothing_is_recorded(
    in_network,
    fake,  # noqa: F811
    paid,  # noqa: F811
    typed,
):
    _, deal, payment = paid
    response = in_network.owner.browser_client().post(
        _url(deal, payment), {"amount": "500", "confirm": typed, "key": "c3"}, follow=True
    )
    assert any("подтверждения" in m for m in _messages(response))
    assert not Refund.objects.exists()


def test_a_viewer_cannot_enter_one(in_network, fake, paid):  # noqa: F811
    _, deal, payment = paid
    response = in_network.viewer.browser_client().post(
        _url(deal, payment), {"amount": "500", "confirm": "500", "key": "c4"}
    )
    assert response.status_code == 403
    with pytest.raises(RefundRefused) as refused:
        refund_cabinet_record(
            payment_id=payment.pk, amount="500", confirm="500", user=in_network.viewer.user()
        )
    assert refused.value.code == "forbidden"
    assert not Refund.objects.exists()
    page = in_network.viewer.browser_client().get(f"/panel/deals/{deal.pk}/")
    assert "refund-cabinet-" not in page.content.decode()


def test_a_test_payment_cannot_have_one(in_network, fake, paid):  # noqa: F811
    _, _, payment = paid
    Payment.objects.filter(pk=payment.pk).update(is_test=True)
    with pytest.raises(RefundRefused) as refused:
        refund_cabinet_record(
            payment_id=payment.pk, amount="1", confirm="1", user=in_network.owner.user()
        )
    assert refused.value.code == "test_payment"
