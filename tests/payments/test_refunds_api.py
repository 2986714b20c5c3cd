"""POST /api/v1/payments/{invoice_id}/refund (CONTRACT): 202 with the refund, idempotent by the
Idempotency-Key header, 409 for another amount with the same key, 422 beyond what is left, 403
for a viewer, {"detail","code"} for every refusal."""

from __future__ import annotations

import pytest

from franchise_platform.flows.refund import refund_poll
from franchise_platform.payments.models import Deal, Refund
from tests.network.conftest import post_json

from .test_refunds import fake, paid  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def _refund(persona, invoice_id, amount, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return persona.api().post(
        f"/api/v1/payments/{invoice_id}/refund",
        {"amount": amount},
        content_type="application/json",
        **headers,
    )


def test_a_refund_is_accepted_with_202_and_the_same_key_answers_the_same_body(
    in_network,
    fake,  # noqa: F811
    paid,  # noqa: F811
):
    _, deal, payment = paid
    first = _refund(in_network.owner, payment.invoice_id, "500.00", key="abc-1")
    again = _refund(in_network.owner, payment.invoice_id, "500", key="abc-1")

    assert first.status_code == 202, first.content
    body = first.json()
    assert body["amount"] == "500.00" and body["status"] == "pending"
    assert body["state"] == "processing" and body["invoice_id"] == payment.invoice_id
    assert again.status_code == 202 and again.json() == body
    assert Refund.objects.count() == 1

    refund_poll(refund_id=body["refund_id"])
    refund_poll(refund_id=body["refund_id"])
    done = _refund(in_network.owner, payment.invoice_id, "500.00", key="abc-1")
    assert done.json()["status"] == "succeeded"
    assert Deal.objects.get(pk=deal.pk).status == "partially_refunded"


def test_another_amount_with_the_same_key_is_a_409(in_network, fake, paid):  # noqa: F811
    _, _, payment = paid
    _refund(in_network.owner, payment.invoice_id, "100", key="k-409")
    conflict = _refund(in_network.owner, payment.invoice_id, "200", key="k-409")

    assert conflict.status_code == 409
    assert conflict.json()["code"] == "idempotency_conflict" and conflict.json()["detail"]


def test_more_than_is_left_is_a_422(in_network, fake, paid):  # noqa: F811
    _, _, payment = paid
    response = _refund(in_network.owner, payment.invoice_id, "1500.01")

    assert response.status_code == 422
    assert response.json()["code"] == "refund_exceeds_refundable"
    assert "1500.00" in response.json()["detail"]


@pytest.mark.parametrize("amount", ["", "abc", "-1", "0", "1.001", "1e400", "NaN"])
def test_a_bad_amount_is_a_422_not_a_500(in_network, fake, paid, amount):  # noqa: F811
    _, _, payment = paid
    response = _refund(in_network.owner, payment.invoice_id, amount)

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_amount"
    assert not Refund.objects.exists()


def test_a_viewer_gets_403_and_an_unknown_invoice_404(in_network, fake, paid):  # noqa: F811
    _, _, payment = paid
    viewer = _refund(in_network.viewer, payment.invoice_id, "100")
    unknown = _refund(in_network.owner, 999, "100")

    assert viewer.status_code == 403 and viewer.json()["code"] == "forbidden"
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    assert not Refund.objects.exists()


def test_an_admin_may_refund(in_network, fake, paid):  # noqa: F811
    _, _, payment = paid
    assert _refund(in_network.admin, payment.invoice_id, "100").status_code == 202


def test_a_body_that_is_not_json_is_a_clear_error(in_network, fake, paid):  # noqa: F811
    _, _, payment = paid
    response = post_json(
        in_network.owner.api(), f"/api/v1/payments/{payment.invoice_id}/refund", []
    )
    assert response.status_code in (400, 422) and "code" in response.json()


def test_the_refund_is_in_the_openapi_schema(in_network):
    paths = in_network.owner.api().get("/api/v1/openapi.json").json()["paths"]
    assert "post" in paths["/api/v1/payments/{invoice_id}/refund"]


def test_the_deal_answer_shows_what_was_refunded(in_network, fake, paid):  # noqa: F811
    _, deal, payment = paid
    body = _refund(in_network.owner, payment.invoice_id, "400").json()
    refund_poll(refund_id=body["refund_id"])
    refund_poll(refund_id=body["refund_id"])

    shown = in_network.owner.api().get(f"/api/v1/deals/{deal.crm_deal_id}").json()

    assert shown["deal"]["refunded"] == "400.00"
    assert shown["deal"]["status"] == "partially_refunded"
    assert [(p["invoice_id"], p["refunded"]) for p in shown["payments"]] == [
        (payment.invoice_id, "400.00")
    ]
