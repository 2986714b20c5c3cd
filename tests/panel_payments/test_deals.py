"""/panel/deals/: the filtered list and one deal's whole history, read-only, per network."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import reset_queries
from django.utils import timezone

from franchise_platform.payments.models import CallbackEvent, Deal, DealStatus, Payment
from tests.factories import DealFactory, LocationFactory, ProviderAccountFactory, shop

from .conftest import count_queries, crm_connection, dead_message, overpaid_deal, paid_deal

pytestmark = pytest.mark.django_db


def _rows(html: str) -> list[str]:
    """The deal titles of the list, top to bottom."""
    return re.findall(r'class="row-title" href="/panel/deals/[^"]+/">\s*([^<]+?)\s*</a>', html)


def _deal(title: str, *, location, status=DealStatus.OPEN, days_ago=0, **extra) -> Deal:
    deal = DealFactory(
        title=title, location=location, partner=location.partner, status=status, **extra
    )
    Deal.objects.filter(pk=deal.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return deal


@pytest.fixture
def two_shops(in_network):
    kazan = LocationFactory(name="Квест «Казань»", partner=ProviderAccountFactory().partner)
    ufa = LocationFactory(name="Квест «Уфа»", partner=ProviderAccountFactory().partner)
    return kazan, ufa


def test_list_shows_deals_newest_first_with_money_and_status(in_network, owner, two_shops):
    kazan, ufa = two_shops
    _deal("Старая", location=kazan, days_ago=3, total=Decimal("12500"))
    _deal("Новая", location=ufa, days_ago=0, status=DealStatus.PAID, paid=Decimal("5000"))

    html = owner.get("/panel/deals/").content.decode()

    assert _rows(html) == ["Новая", "Старая"]
    assert "12\xa0500,00 ₽" in html  # money, grouped the Russian way
    assert "Оплачена" in html and "Квест «Уфа»" in html and kazan.partner.name in html


def test_filters_by_partner_location_status_and_created_range(in_network, owner, two_shops):
    kazan, ufa = two_shops
    _deal("Казань открыта", location=kazan, days_ago=10)
    _deal("Казань оплачена", location=kazan, status=DealStatus.PAID, days_ago=1)
    _deal("Уфа оплачена", location=ufa, status=DealStatus.PAID, days_ago=1)
    today = timezone.localdate()

    def titles(**query) -> set[str]:
        return set(_rows(owner.get("/panel/deals/", query).content.decode()))

    assert titles(status="paid") == {"Казань оплачена", "Уфа оплачена"}
    assert titles(partner=str(kazan.partner_id)) == {"Казань открыта", "Казань оплачена"}
    assert titles(location=str(ufa.pk)) == {"Уфа оплачена"}
    assert titles(status="paid", location=str(kazan.pk)) == {"Казань оплачена"}
    since = (today - timedelta(days=2)).isoformat()
    assert titles(created_from=since) == {"Казань оплачена", "Уфа оплачена"}
    assert titles(created_to=(today - timedelta(days=5)).isoformat()) == {"Казань открыта"}


def test_paid_date_range_keeps_deals_with_a_payment_inside_it(in_network, owner):
    anon = in_network.anonymous()
    paid = paid_deal(anon, lead=7001, refused=False)
    paid_deal(anon, lead=7002, refused=False)
    Payment.objects.filter(deal=paid.deal).update(paid_at=timezone.now() - timedelta(days=20))
    today = timezone.localdate().isoformat()

    html = owner.get("/panel/deals/", {"paid_from": today, "paid_to": today}).content.decode()

    assert "amoCRM № 7002" in html
    assert "amoCRM № 7001" not in html


def test_bad_filter_values_are_ignored_or_match_nothing_never_an_error(
    in_network, owner, two_shops
):
    kazan, _ufa = two_shops
    _deal("Единственная", location=kazan)

    loose = owner.get(
        "/panel/deals/", {"created_from": "31.02.2026", "status": "nope", "page": "x"}
    )
    stranger = owner.get("/panel/deals/", {"partner": "00000000-0000-0000-0000-000000000001"})

    assert loose.status_code == 200
    assert _rows(loose.content.decode()) == ["Единственная"]
    assert stranger.status_code == 200
    assert _rows(stranger.content.decode()) == ["Единственная"]  # not a partner here: no filter


def test_pages_of_50_keep_the_filters(in_network, owner, two_shops):
    kazan, ufa = two_shops
    for n in range(55):
        _deal(f"Оплаченная {n:02}", location=kazan, status=DealStatus.PAID)
    _deal("Открытая", location=ufa)

    first = owner.get("/panel/deals/", {"status": "paid"}).content.decode()
    second = owner.get("/panel/deals/", {"status": "paid", "page": 2}).content.decode()

    assert len(_rows(first)) == 50
    assert len(_rows(second)) == 5
    assert "status=paid&amp;page=2" in first
    assert "Страница 1 из 2" in first
    assert "Открытая" not in first + second


def test_a_page_of_50_deals_costs_the_same_queries_as_5(
    in_network, owner, two_shops, django_assert_max_num_queries
):
    kazan, ufa = two_shops
    for n in range(5):
        _deal(f"Сделка {n}", location=kazan if n % 2 else ufa)
    owner.get("/panel/deals/")  # the session and the user are warm from here on
    five = count_queries(lambda: owner.get("/panel/deals/"))
    for n in range(45):
        _deal(f"Ещё {n}", location=kazan if n % 2 else ufa)

    reset_queries()
    with django_assert_max_num_queries(five):
        response = owner.get("/panel/deals/")

    assert len(_rows(response.content.decode())) == 50
    # 9 queries; django-tenants may put a search_path SET before each (18 statements at most).
    assert five <= 18


def test_deal_page_shows_its_whole_history(in_network, owner):
    anon = in_network.anonymous()
    paid = paid_deal(anon)  # a refused notification (wrong password), then a good one
    conn = crm_connection()
    dead_message(conn, deal=paid.deal, error="http_400: Field 123 not found")
    signatures = list(CallbackEvent.objects.values_list("params__SignatureValue", flat=True))
    link = paid.deal.links.get(kind="full")

    html = owner.get(f"/panel/deals/{paid.deal.pk}/").content.decode()

    # links: kind, amount, status, URL with a copy button
    assert f"/pay/{link.token}" in html and 'data-copy="#link-' in html
    assert "Предоплата" in html and "3\xa0500,00 ₽" in html
    # invoices
    assert f"№ {paid.invoice.pk}" in html and "1\xa0500,00 ₽" in html
    # notifications, accepted and refused, with the code and a reason a person reads
    assert "принято" in html and "отклонено" in html
    assert "bad_signature" in html and "Подпись не сходится" in html
    # the raw parameters are there but never the signature
    assert "OutSum" in html and "SignatureValue" in html and "••••••" in html
    assert all(s and s not in html for s in signatures)
    # payments and CRM messages
    assert "Уведомление провайдера" in html
    assert "http_400: Field 123 not found" in html and "Не доставлено" in html
    # the chronological feed
    assert f"Уведомление по счёту №{paid.invoice.pk} отклонено" in html
    assert "Получена оплата 1\xa0500,00 ₽" in html


def test_deal_history_leaves_out_notifications_sent_to_another_shops_address(in_network, owner):
    """InvIds are sequential: anyone can name this deal's invoice in a notification sent to another
    partner's address, or to no partner at all. Those stay in the inbox, not in this deal's story."""
    anon = in_network.anonymous()
    paid = paid_deal(anon, refused=False)
    other = shop(merchant_login="other-shop")
    forged = {"OutSum": "999.000000", "InvId": str(paid.invoice.pk), "SignatureValue": "AB" * 16}
    anon.post(f"/callbacks/robokassa/{other.partner_id}/result/", forged)
    anon.post(f"/callbacks/robokassa/{uuid.uuid4()}/result/", forged)
    assert CallbackEvent.objects.filter(invoice_number=paid.invoice.pk).count() == 3

    html = owner.get(f"/panel/deals/{paid.deal.pk}/").content.decode()

    assert "999.000000" not in html
    assert f"Уведомление по счёту №{paid.invoice.pk} отклонено" not in html
    assert f"Robokassa подтвердила оплату счёта №{paid.invoice.pk}" in html


def test_an_overpaid_deal_shows_the_excess(in_network, owner):
    deal = overpaid_deal(in_network.anonymous())
    assert (deal.status, deal.overpaid_amount) == (DealStatus.OVERPAID, Decimal("1500.00"))

    detail = owner.get(f"/panel/deals/{deal.pk}/").content.decode()
    listing = owner.get("/panel/deals/", {"status": "overpaid"}).content.decode()

    assert 'id="overpaid"' in detail
    assert "Переплата <strong>1\xa0500,00 ₽</strong>" in detail
    assert "+1\xa0500,00 ₽" in detail
    assert 'data-role="overpaid"' in listing and "+1\xa0500,00 ₽" in listing


def test_viewer_reads_deals_and_a_deal(in_network, two_shops):
    kazan, _ = two_shops
    deal = _deal("Для наблюдателя", location=kazan)
    viewer = in_network.viewer.browser_client()

    listing = viewer.get("/panel/deals/")
    detail = viewer.get(f"/panel/deals/{deal.pk}/")

    assert (listing.status_code, detail.status_code) == (200, 200)
    assert 'data-role="edit"' not in detail.content.decode()


def test_owner_of_b_gets_404_for_a_deal_of_a(in_network, owner_b, two_shops):
    kazan, _ = two_shops
    deal = _deal("Секрет сети А", location=kazan)
    client = owner_b.browser_client()

    detail = client.get(f"/panel/deals/{deal.pk}/")
    listing = client.get("/panel/deals/").content.decode()

    assert detail.status_code == 404
    assert "Секрет сети А" not in detail.content.decode() + listing


def test_a_malformed_deal_id_is_404(in_network, owner):
    assert owner.get("/panel/deals/not-a-uuid/").status_code == 404


def test_the_new_pages_speak_english_when_asked(in_network, owner, settings):
    paid = paid_deal(in_network.anonymous())
    dead_message(crm_connection(status="revoked"), deal=paid.deal)
    owner.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    deals = owner.get("/panel/deals/").content.decode()
    deal = owner.get(f"/panel/deals/{paid.deal.pk}/").content.decode()
    payments = owner.get("/panel/payments/").content.decode()
    crm = owner.get("/panel/integrations/").content.decode()
    partner = owner.get(f"/panel/partners/{paid.account.partner_id}/").content.decode()

    assert "Found: 1" in deals and "Any status" in deals and "1,500.00 ₽" in deals
    assert "Timeline" in deal and "Notification for invoice #" in deal
    assert "The signature does not match" in deal and "Payment links" in deal
    assert "Download CSV" in payments and "Total" in payments
    assert "amoCRM access revoked — reconnect the integration" in crm
    assert "Undelivered updates" in crm and ">Retry<" in crm.replace("\n", "").replace(" ", "")
    assert "Check the shop" in partner and "not checked" in partner
    for html in (deals, deal, payments, crm):
        assert "Сделки" not in html and "Повторить" not in html
