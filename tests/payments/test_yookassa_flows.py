"""YooKassa wired into the core's flows (issue 16, item 5) through the registry alone: a visit
creates the payment, a notification at the generic /callbacks/<provider>/<partner>/notification/
is checked (sender allow-list, the payment re-read from the API) and stored, then applied as
Robokassa's are; refunds go through the same flow. Robokassa's own
paths keep working, and its callbacks also arrive at the generic path."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from franchise_platform.flows.payment import callback_apply
from franchise_platform.flows.refund import refund_poll
from franchise_platform.payments.models import (
    CallbackEvent,
    CallbackStatus,
    Deal,
    Invoice,
    LinkKind,
    Payment,
    RefundStatus,
)
from franchise_platform.payments.refunds import refund_request
from tests.factories import shop
from tests.fakes.robokassa import result_callback_form
from tests.fakes.yookassa import FakeYooKassa

from .helpers import active_link, deal_with_links, invoice_marker_shp, visit
from .yookassa_helpers import yookassa_options, yookassa_shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(settings):
    fake = FakeYooKassa()
    yookassa_options(settings, fake)
    return fake


def _notify(client, account, body, *, remote_addr="127.0.0.1"):
    return client.post(
        f"/callbacks/yookassa/{account.partner_id}/notification/",
        data=json.dumps(body),
        content_type="application/json",
        REMOTE_ADDR=remote_addr,
    )


def _paid_visit(client, fake, link):
    response, _ = visit(client, link)
    assert response.status_code == 302
    invoice = Invoice.objects.get(link=link)
    assert response["Location"] == invoice.payment_url
    return invoice, fake.pay(invoice.provider_reference)


def test_a_visit_creates_the_payment_with_our_return_address(in_network, fake):
    account = yookassa_shop(fake)
    deal = deal_with_links(account.partner.locations.get())
    link = active_link(deal, LinkKind.PREPAYMENT)

    response, _ = visit(in_network.anonymous(), link)

    invoice = Invoice.objects.get()
    payment = fake.payment(invoice.provider_reference)
    assert response["Location"] == payment["confirmation"]["confirmation_url"]
    assert payment["amount"] == {"value": "1500.00", "currency": "RUB"}
    assert payment["metadata"]["mark"] == invoice.marker
    # The buyer comes back to the partner's generic return page on the network's own host.
    assert (
        f"/callbacks/yookassa/{account.partner_id}/success/?invoice={invoice.pk}"
        in (payment["confirmation"]["return_url"])
    )
    assert in_network.anonymous().get(payment["confirmation"]["return_url"]).status_code == 200


def test_a_notification_is_stored_then_applied_like_robokassas(in_network, fake):
    account = yookassa_shop(fake)
    deal = deal_with_links(account.partner.locations.get())
    invoice, paid = _paid_visit(
        in_network.anonymous(), fake, active_link(deal, LinkKind.PREPAYMENT)
    )

    response = _notify(
        in_network.anonymous(), account, fake.notification("payment.succeeded", paid)
    )

    assert response.status_code == 200
    event = CallbackEvent.objects.get()
    assert (event.provider, event.accepted, event.invoice_number) == ("yookassa", True, invoice.pk)
    callback_apply(event_id=str(event.pk))
    deal = Deal.objects.get(pk=deal.pk)
    assert deal.paid == Decimal("1500.00") and deal.status == "partially_paid"
    assert Payment.objects.get().invoice_id == invoice.pk
    assert CallbackEvent.objects.get().status == CallbackStatus.APPLIED


def test_a_notification_from_outside_the_allow_list_is_refused(in_network, fake):
    account = yookassa_shop(fake)
    deal = deal_with_links(account.partner.locations.get())
    _, paid = _paid_visit(in_network.anonymous(), fake, active_link(deal, LinkKind.FULL))

    response = _notify(
        in_network.anonymous(),
        account,
        fake.notification("payment.succeeded", paid),
        remote_addr="203.0.113.9",
    )

    assert response.status_code == 400
    assert CallbackEvent.objects.get().reason_code == "bad_source"
    assert not Payment.objects.exists()


def test_a_forged_body_is_judged_on_the_api_answer(in_network, fake):
    """The body says succeeded; YooKassa's own answer says pending: not paid."""
    account = yookassa_shop(fake)
    deal = deal_with_links(account.partner.locations.get())
    visit(in_network.anonymous(), active_link(deal, LinkKind.FULL))
    invoice = Invoice.objects.get()
    forged = fake.notification("payment.succeeded", fake.payment(invoice.provider_reference))
    forged["object"]["status"] = "succeeded"
    forged["object"]["paid"] = True

    response = _notify(in_network.anonymous(), account, forged)

    assert response.status_code == 400
    assert CallbackEvent.objects.get().reason_code == "not_paid"


def test_a_refund_notification_is_acknowledged_and_not_stored(in_network, fake):
    account = yookassa_shop(fake)
    body = {
        "type": "notification",
        "event": "refund.succeeded",
        "object": {"id": "rf-1", "payment_id": "p-1", "status": "succeeded"},
    }

    response = _notify(in_network.anonymous(), account, body)

    assert response.status_code == 200
    assert not CallbackEvent.objects.exists()


def test_a_yookassa_notification_for_a_robokassa_partner_is_unknown_shop(in_network, fake):
    account = shop()
    response = _notify(
        in_network.anonymous(),
        account,
        {"type": "notification", "event": "payment.succeeded", "object": {"id": "x"}},
    )
    assert response.status_code == 400
    assert CallbackEvent.objects.get().reason_code in ("unknown_shop", "unknown_invoice")


def test_an_unknown_provider_path_is_404(in_network):
    account = shop()
    response = in_network.anonymous().post(
        f"/callbacks/paypal/{account.partner_id}/notification/", {}
    )
    assert response.status_code == 404


def test_robokassa_result_also_arrives_at_the_generic_path(in_network):
    account = shop()
    deal = deal_with_links(account.partner.locations.get())
    visit(in_network.anonymous(), active_link(deal, LinkKind.FULL))
    invoice = Invoice.objects.get()
    form = result_callback_form(
        out_sum="5000.00",
        inv_id=invoice.pk,
        password2=account.password2,
        hash_algorithm=account.hash_algorithm,
        shp=invoice_marker_shp(invoice.pk),
    )

    response = in_network.anonymous().post(
        f"/callbacks/robokassa/{account.partner_id}/notification/", form
    )

    assert response.status_code == 200
    assert response.content.decode() == f"OK{invoice.pk}"
    assert CallbackEvent.objects.get().accepted


def test_a_refund_goes_through_the_same_flow_with_our_refund_id_as_key(in_network, fake):
    account = yookassa_shop(fake)
    deal = deal_with_links(account.partner.locations.get())
    invoice, paid = _paid_visit(in_network.anonymous(), fake, active_link(deal, LinkKind.FULL))
    _notify(in_network.anonymous(), account, fake.notification("payment.succeeded", paid))
    callback_apply(event_id=str(CallbackEvent.objects.get().pk))
    payment = Payment.objects.get()

    outcome = refund_request(
        payment_id=payment.pk, amount=Decimal("1000.00"), user=in_network.owner.user()
    )

    refund = outcome.refund
    assert refund.status == RefundStatus.PROCESSING, refund.error
    (stored,) = fake.refunds.values()
    assert stored["id"] == refund.provider_request_id
    assert stored["payment_id"] == invoice.provider_reference
    assert stored["amount"]["value"] == "1000.00"
    refund_poll(refund_id=str(refund.pk))
    refund.refresh_from_db()
    assert refund.status == RefundStatus.FINISHED
    deal.refresh_from_db()
    assert deal.refunded == Decimal("1000.00") and deal.paid == Decimal("4000.00")
