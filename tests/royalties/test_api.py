"""GET /api/v1/royalties/statements (and /{id}): Bearer auth, shape, filters, pagination, and
another network's statements are never visible."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.royalties.services import statement_approve, statement_draft

from .helpers import msk, partner_with_shop, pay, refund, set_rule

pytestmark = pytest.mark.django_db

NOV = msk(2026, 11, 1).date()
OCT = msk(2026, 10, 1).date()
LATER = msk(2026, 12, 2)


@pytest.fixture
def statements_a(net_a):
    with tenant_context(net_a.network):
        first = partner_with_shop("ИП Первый")
        second = partner_with_shop("ИП Второй")
        set_rule(first.partner, kind="percent", percent=Decimal("10"))
        set_rule(second.partner, kind="fixed", fixed_amount=Decimal("500"))
        paid = pay(first, "1500.00", msk(2026, 11, 3))
        refund(paid, "500.00", msk(2026, 11, 4))
        pay(first, "100.00", msk(2026, 10, 3))
        nov = statement_draft(partner_id=first.partner_id, period=NOV, now=LATER)
        statement_draft(partner_id=first.partner_id, period=OCT, now=LATER)
        statement_draft(partner_id=second.partner_id, period=NOV, now=LATER)
        statement_approve(statement_id=nov.pk, actor="owner")
    return first.partner, second.partner, nov


def test_without_a_token_the_answer_is_401_in_the_error_shape(net_a):
    response = net_a.anonymous().get("/api/v1/royalties/statements")
    assert response.status_code == 401
    assert set(response.json()) == {"detail", "code"}


def test_statements_list_shape_newest_month_first(net_a, statements_a):
    first, _second, nov = statements_a
    response = net_a.viewer.api().get("/api/v1/royalties/statements")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 3
    periods = [item["period"] for item in body["items"]]
    assert periods == ["2026-11", "2026-11", "2026-10"]
    item = next(i for i in body["items"] if i["id"] == str(nov.pk))
    assert item == {
        "id": str(nov.pk),
        "partner_id": str(first.pk),
        "partner_name": "ИП Первый",
        "period": "2026-11",
        "period_start": "2026-11-01",
        "period_end": "2026-12-01",
        "status": "approved",
        "currency": "RUB",
        "turnover": "1500.00",
        "refunds": "500.00",
        "base": "1000.00",
        "amount": "100.00",
        "rule": {
            "kind": "percent",
            "percent": "10.00",
            "fixed_amount": None,
            "minimum": None,
            "tiers": [],
        },
        "payments_count": 1,
        "refunds_count": 1,
        "drafted_at": item["drafted_at"],
        "approved_at": item["approved_at"],
        "sent_at": None,
    }
    assert item["approved_at"] and "T" in item["drafted_at"]


def test_filters_by_period_and_partner(net_a, statements_a):
    first, second, _nov = statements_a
    api = net_a.owner.api()
    only_nov = api.get("/api/v1/royalties/statements?period=2026-11").json()
    assert {i["partner_name"] for i in only_nov["items"]} == {"ИП Первый", "ИП Второй"}
    mine = api.get(f"/api/v1/royalties/statements?partner_id={second.pk}").json()
    assert [i["partner_id"] for i in mine["items"]] == [str(second.pk)]
    both = api.get(f"/api/v1/royalties/statements?partner_id={first.pk}&period=2026-10").json()
    assert [i["period"] for i in both["items"]] == ["2026-10"]
    unknown = api.get("/api/v1/royalties/statements?partner_id=not-a-uuid").json()
    assert unknown["count"] == 0


def test_a_bad_period_is_422_with_a_code(net_a):
    response = net_a.owner.api().get("/api/v1/royalties/statements?period=2026-13")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_period"


def test_pagination_like_the_other_lists(net_a, statements_a):
    body = net_a.owner.api().get("/api/v1/royalties/statements?page=2").json()
    assert body == {"items": [], "count": 3}


def test_one_statement_with_its_lines(net_a, statements_a):
    _first, _second, nov = statements_a
    body = net_a.owner.api().get(f"/api/v1/royalties/statements/{nov.pk}").json()
    assert [(line["kind"], line["amount"]) for line in body["lines"]] == [
        ("payment", "1500.00"),
        ("refund", "-500.00"),
    ]
    missing = net_a.owner.api().get("/api/v1/royalties/statements/nope")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_another_networks_statements_are_never_visible(net_a, net_b, statements_a):
    _first, _second, nov = statements_a
    api_b = net_b.owner.api()
    assert api_b.get("/api/v1/royalties/statements").json() == {"items": [], "count": 0}
    assert api_b.get(f"/api/v1/royalties/statements/{nov.pk}").status_code == 404
    # A's token on B's host is refused: tokens live in their own network.
    stolen = net_a.owner.api()
    stolen.defaults["HTTP_HOST"] = net_b.host
    assert stolen.get("/api/v1/royalties/statements").status_code == 401
