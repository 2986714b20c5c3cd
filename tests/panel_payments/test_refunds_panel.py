"""Refunds from the deal page (issue 15, item 3): owners and admins only, confirmed by typing the
amount or «ВОЗВРАТ», a double submit answers the same refund, an overpayment comes prefilled."""

from __future__ import annotations

from decimal import Decimal

import pytest

from franchise_platform.payments.models import Payment, Refund
from tests.payments.test_refunds import fake, paid  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def _url(deal, payment):
    return f"/panel/deals/{deal.pk}/payments/{payment.pk}/refund/"


def _messages(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_the_owner_refunds_part_of_a_payment_confirming_with_the_word(
    in_network,
    fake,  # noqa: F811
    paid,  # noqa: F811
):
    _, deal, payment = paid
    panel = in_network.owner.browser_client()
    page = panel.get(f"/panel/deals/{deal.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'id="refund-{payment.pk}"' in html and 'value="1500.00"' in html

    response = panel.post(
        _url(deal, payment), {"amount": "500", "confirm": "ВОЗВРАТ", "key": "f1"}, follow=True
    )

    refund = Refund.objects.get()
    assert (refund.amount, refund.status, refund.requested_by) == (
        Decimal("500.00"),
        "processing",
        in_network.owner.email,
    )
    assert any("отправлен" in m for m in _messages(response))
    # The same form submitted twice: the same refund, nothing new sent.
    panel.post(_url(deal, payment), {"amount": "500", "confirm": "ВОЗВРАТ", "key": "f1"})
    assert Refund.objects.count() == 1


def test_the_amount_typed_again_confirms_too(in_network, fake, paid):  # noqa: F811
    _, deal, payment = paid
    in_network.admin.browser_client().post(
        _url(deal, payment), {"amount": "700,00", "confirm": "700", "key": "f2"}
    )
    assert Refund.objects.get().amount == Decimal("700.00")


@pytest.mark.parametrize("typed", ["", "да", "699", "ВОЗВРА"])
def test_without_the_typed_confirmation_nothing_is_sent(in_network, fake, paid, typed):  # noqa: F811
    _, deal, payment = paid
    response = in_network.owner.browser_client().post(
        _url(deal, payment), {"amount": "700", "confirm": typed}, follow=True
    )
    assert not Refund.objects.exists()
    assert any("ВОЗВРАТ" in m for m in _messages(response))


def test_over_refund_and_bad_amounts_are_clear_russian_errors(in_network, fake, paid):  # noqa: F811
    _, deal, payment = paid
    panel = in_network.owner.browser_client()
    over = panel.post(_url(deal, payment), {"amount": "1500.01", "confirm": "ВОЗВРАТ"}, follow=True)
    bad = panel.post(_url(deal, payment), {"amount": "1e400", "confirm": "ВОЗВРАТ"}, follow=True)

    assert any("не больше 1500.00" in m for m in _messages(over))
    assert bad.status_code == 200 and any("сумм" in m.lower() for m in _messages(bad))
    assert not Refund.objects.exists()


def test_a_viewer_sees_no_form_and_cannot_post(in_network, fake, paid):  # noqa: F811
    _, deal, payment = paid
    viewer = in_network.viewer.browser_client()
    assert (
        f'id="refund-{payment.pk}"' not in viewer.get(f"/panel/deals/{deal.pk}/").content.decode()
    )

    response = viewer.post(_url(deal, payment), {"amount": "100", "confirm": "ВОЗВРАТ"})
    assert response.status_code == 403
    assert not Refund.objects.exists()


def test_an_overpayment_comes_prefilled_with_what_is_due_back(in_network, fake, paid):  # noqa: F811
    _, deal, payment = paid
    Payment.objects.filter(pk=payment.pk).update(refund_due=Decimal("250.00"))
    html = in_network.owner.browser_client().get(f"/panel/deals/{deal.pk}/").content.decode()
    assert 'value="250.00"' in html


def test_an_unknown_payment_is_404(in_network, fake, paid):  # noqa: F811
    _, deal, _ = paid
    response = in_network.owner.browser_client().post(
        f"/panel/deals/{deal.pk}/payments/not-a-uuid/refund/", {"amount": "1", "confirm": "1"}
    )
    assert response.status_code == 404
