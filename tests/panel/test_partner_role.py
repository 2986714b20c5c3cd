"""A franchisee's own window: a `partner` user of network A, attached to partner «Казань», sees only
Kazan's deals, payments, refunds, receipts and shop in the panel, gets the panel's 404 for «Уфа»'s
ids (the same page as an id that never existed) and 403 for the network's own pages; owners and
admins invite such users from «Команда», choosing the partner, audited."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from franchise_platform.accounts.models import Role, User
from franchise_platform.accounts.services import user_create
from franchise_platform.network.models import NetworkSettings, Partner
from franchise_platform.payments.models import (
    Invoice,
    Payment,
    Refund,
    SettlementReceipt,
)
from franchise_platform.scoping import NO_PARTNER, confine, scope_partner_id
from franchise_platform.security.models import AuditEntry
from tests.factories import shop
from tests.personas import PASSWORD

from .test_dashboard import days_ago, paid

pytestmark = pytest.mark.django_db

KAZAN_DEAL = "Казань: квест «Альфа»"
UFA_DEAL = "Уфа: квест «Омега»"

# Pages of the network itself: a partner user is refused every one of them.
NETWORK_PAGES = [
    "/panel/partners/",
    "/panel/partners/new/",
    "/panel/locations/",
    "/panel/locations/new/",
    "/panel/settings/",
    "/panel/integrations/",
    "/panel/integrations/claim/",
    "/panel/tokens/",
    "/panel/audit/",
    "/panel/team/",
]


def _money(partner_location, *, title: str, amount: str, receipt_error: str):
    """A paid deal of one partner with a finished partial refund and a failed settlement receipt."""
    deal = paid(partner_location, amount=amount, paid_at=days_ago(1), title=title)
    payment = Payment.objects.get(deal=deal)
    Refund.objects.create(
        payment=payment,
        deal=deal,
        amount=Decimal("100.00"),
        status="finished",
        source="cabinet",
        receipt="manual",
        requested_by="owner@alpha.test",
    )
    SettlementReceipt.objects.create(
        payment=payment,
        deal=deal,
        amount=payment.amount,
        status="failed",
        tax_system="usn_income",
        vat="none",
        item_name="Квест",
        error=receipt_error,
    )
    return deal


@pytest.fixture
def network(in_network):
    kazan = shop(merchant_login="kazan-shop", partner__name="ИП Казанцев")
    ufa = shop(merchant_login="ufa-shop", partner__name="ИП Уфимцев")
    kazan_deal = _money(
        kazan.partner.locations.get(), title=KAZAN_DEAL, amount="1500.00", receipt_error="К-ошибка"
    )
    ufa_deal = _money(
        ufa.partner.locations.get(), title=UFA_DEAL, amount="2700.00", receipt_error="У-ошибка"
    )
    user = user_create(
        email="franchisee@kazan.test",
        password=PASSWORD,
        role=Role.PARTNER,
        partner_id=kazan.partner.pk,
    )
    client = Client(HTTP_HOST=in_network.host)
    client.force_login(user)
    return {
        "kazan": kazan.partner,
        "ufa": ufa.partner,
        "kazan_deal": kazan_deal,
        "ufa_deal": ufa_deal,
        "user": user,
        "client": client,
        "owner": in_network.owner.browser_client(),
    }


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- lists and the home page --------------------------------------------------------------------


def test_deal_list_shows_only_the_partners_deals(network):
    html = _html(network["client"].get("/panel/deals/"))

    assert KAZAN_DEAL in html
    assert "Уфа" not in html
    assert "ИП Уфимцев" not in html  # not even as a filter choice


def test_a_filter_naming_another_partner_still_shows_only_its_own(network):
    ufa = network["ufa"]
    for url in (f"/panel/deals/?partner={ufa.pk}", f"/panel/payments/?partner={ufa.pk}"):
        html = _html(network["client"].get(url))
        assert "Уфа" not in html
        assert not re.search(r"2\s?700,00", html)


def test_payment_list_and_its_total_are_the_partners_only(network):
    html = _html(network["client"].get("/panel/payments/"))

    assert re.search(r'id="payments-total">\s*1\s?500,00 ₽', html), html
    assert re.search(r'id="payments-count">\s*1\s*<', html)
    assert "Уфа" not in html and "ИП Уфимцев" not in html


def test_receipts_needing_attention_are_the_partners_only(network):
    html = _html(network["client"].get("/panel/payments/receipts/"))

    assert "К-ошибка" in html
    assert "У-ошибка" not in html and "Уфа" not in html


def test_home_is_the_franchisees_window(network):
    html = _html(network["client"].get("/panel/"))

    assert 'id="partner-window"' in html and "ИП Казанцев" in html
    assert re.search(r'id="dash-turnover">\s*1\s?500,00 ₽', html)
    assert "Уфа" not in html and "ИП Уфимцев" not in html
    assert 'id="onboarding"' not in html  # the network's setup is not the franchisee's business


def test_navigation_hides_what_a_partner_user_cannot_open(network):
    html = _html(network["client"].get("/panel/"))

    for url in NETWORK_PAGES:
        assert f'href="{url}"' not in html, url
    assert f'href="/panel/partners/{network["kazan"].pk}/"' in html  # «Мой магазин»
    assert 'href="/panel/deals/"' in html and 'href="/panel/payments/"' in html


# --- detail pages: another partner's id is the panel's 404 ---------------------------------------


def test_own_deal_opens_with_its_refund(network):
    html = _html(network["client"].get(f"/panel/deals/{network['kazan_deal'].pk}/"))

    assert "Казань" in html and re.search(r">\s*100,00", html)


def test_a_deal_moved_from_another_partner_shows_only_its_own_money(network):
    """Ufa's shop was paid on this deal before it moved to a Kazan location: Kazan's partner user
    sees its deal, not Ufa's invoice, payment or receipt on it."""
    deal = network["kazan_deal"]
    ufa_shop = network["ufa"].provider_account
    invoice = Invoice.objects.create(
        deal=deal,
        provider_account=ufa_shop,
        provider="robokassa",
        amount=Decimal("4321.00"),
        payment_kind="prepayment",
        status="paid",
        payment_url="-",
        expires_at=days_ago(5),
        paid_at=days_ago(5),
    )
    Payment.objects.create(
        invoice=invoice,
        deal=deal,
        partner=network["ufa"],
        amount=invoice.amount,
        kind="prepayment",
        paid_at=days_ago(5),
    )

    html = _html(network["client"].get(f"/panel/deals/{deal.pk}/"))
    owners = _html(network["owner"].get(f"/panel/deals/{deal.pk}/"))

    assert re.search(r"1\s?500,00", html)
    assert not re.search(r"4\s?321,00", html) and "ИП Уфимцев" not in html
    assert re.search(r"4\s?321,00", owners)  # the network still sees the whole story


@pytest.mark.parametrize(
    "url",
    [
        "/panel/deals/{ufa_deal}/",
        "/panel/partners/{ufa}/",
    ],
)
def test_another_partners_ids_answer_the_same_404_as_a_missing_id(network, url):
    client = network["client"]
    other = client.get(url.format(ufa_deal=network["ufa_deal"].pk, ufa=network["ufa"].pk))
    missing = client.get(url.format(ufa_deal=uuid.uuid4(), ufa=uuid.uuid4()))

    assert other.status_code == missing.status_code == 404
    assert "Уфа" not in other.content.decode() and "Уфимцев" not in other.content.decode()
    assert other.templates[0].name == missing.templates[0].name == "panel/not_found.html"


def test_own_shop_page_shows_the_shop_check(network):
    html = _html(network["client"].get(f"/panel/partners/{network['kazan'].pk}/"))

    assert "kazan-shop" in html
    assert f'action="/panel/partners/{network["kazan"].pk}/shop-check/"' in html
    assert f'href="/panel/partners/{network["kazan"].pk}/edit/"' not in html


def test_partner_user_checks_its_own_shop_but_not_anothers(network):
    client = network["client"]
    before = Invoice.objects.filter(purpose="shop_check").count()

    own = client.post(f"/panel/partners/{network['kazan'].pk}/shop-check/")
    other = client.post(f"/panel/partners/{network['ufa'].pk}/shop-check/")

    assert own.status_code == 302
    assert other.status_code == 404
    checks = Invoice.objects.filter(purpose="shop_check")
    assert checks.count() == before + 1
    assert checks.get().provider_account.partner_id == network["kazan"].pk


# --- the network's pages are refused ------------------------------------------------------------


@pytest.mark.parametrize("url", NETWORK_PAGES)
def test_network_pages_answer_403(network, url):
    response = network["client"].get(url)

    assert response.status_code == 403
    assert "Нет доступа" in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/panel/partners/{kazan}/edit/",
        "/panel/partners/{kazan}/toggle/",
        "/panel/partners/{kazan}/delete/",
    ],
)
def test_even_its_own_partner_cannot_be_edited(network, url):
    client = network["client"]
    target = url.format(kazan=network["kazan"].pk)

    assert client.get(target).status_code in (403, 405)
    assert client.post(target).status_code == 403
    kazan = Partner.objects.get(pk=network["kazan"].pk)
    assert kazan.active and kazan.name == "ИП Казанцев"


def test_settings_post_is_refused_and_changes_nothing(network):
    before = NetworkSettings.objects.get_or_create(pk=1)[0].prepayment_value
    response = network["client"].post(
        "/panel/settings/",
        {
            "prepayment_mode": "fixed",
            "prepayment_value": "1",
            "invoice_ttl_hours": "1",
            "item_name": "x",
        },
    )

    assert response.status_code == 403
    assert NetworkSettings.objects.get(pk=1).prepayment_value == before


def test_partner_user_cannot_create_api_tokens(network):
    response = network["client"].post("/panel/tokens/", {"name": "мой"})

    assert response.status_code == 403
    assert not network["user"].api_tokens.exists()


def test_refunds_and_delivery_are_refused(network):
    deal = network["kazan_deal"]
    payment = Payment.objects.get(deal=deal)
    client = network["client"]

    assert client.post(f"/panel/deals/{deal.pk}/payments/{payment.pk}/refund/").status_code == 403
    assert client.post(f"/panel/deals/{deal.pk}/delivered/").status_code == 403
    assert Refund.objects.filter(deal=deal).count() == 1


# --- the scoping helper ---------------------------------------------------------------------------


def test_scope_fails_closed_and_refuses_models_it_cannot_confine(network):
    loose = User(email="x@y.z", role=Role.PARTNER, partner_id=None)
    assert scope_partner_id(loose) == NO_PARTNER
    assert not confine(Payment.objects.all(), user=loose).exists()
    assert scope_partner_id(User(role=Role.VIEWER)) is None
    with pytest.raises(LookupError):
        confine(AuditEntry.objects.all(), user=network["user"])


def test_a_partner_user_always_has_a_partner_and_only_partner_users_have_one(network):
    with pytest.raises(IntegrityError), transaction.atomic():
        user_create(email="nobody@kazan.test", password=PASSWORD, role=Role.PARTNER)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(
            email="viewer2@kazan.test", role=Role.VIEWER, partner_id=network["kazan"].pk
        )


# --- inviting ------------------------------------------------------------------------------------


def test_owner_invites_a_partner_user_choosing_the_partner(network, net_a):
    owner = net_a.owner.browser_client()
    kazan = network["kazan"]

    response = owner.post(
        "/panel/team/",
        {
            "email": "Manager@Kazan.test",
            "full_name": "Мария",
            "role": "partner",
            "partner": str(kazan.pk),
        },
    )

    assert response.status_code == 302
    invited = User.objects.get(email="manager@kazan.test")
    assert (invited.role, invited.partner_id) == (Role.PARTNER, kazan.pk)
    assert not invited.has_usable_password()
    entry = AuditEntry.objects.filter(action="user.invite").latest("pk")
    assert entry.actor == net_a.owner.email
    assert entry.changes["partner"] == [None, "ИП Казанцев"]
    assert entry.changes["role"] == [None, "partner"]
    letter = mail.outbox[-1]
    assert letter.to == ["manager@kazan.test"]
    link = re.search(r"https?://\S+/panel/password-reset/\S+/", letter.body).group(0)
    # The link leads to setting a password, and then the person is a partner user of Kazan.
    stranger = Client(HTTP_HOST=net_a.host)
    step = stranger.get(link.split(net_a.host, 1)[1])
    assert step.status_code == 302
    done = stranger.post(
        step["Location"],
        {"new_password1": "Kazan-Quest-2026!", "new_password2": "Kazan-Quest-2026!"},
    )
    assert done.status_code == 302
    invited.refresh_from_db()
    assert invited.check_password("Kazan-Quest-2026!")
    team = _html(owner.get("/panel/team/"))
    assert "manager@kazan.test" in team and "ИП Казанцев" in team


def test_admin_invites_too_and_a_partner_role_needs_a_partner(network, net_a):
    admin = net_a.admin.browser_client()

    refused = admin.post(
        "/panel/team/", {"email": "x@kazan.test", "role": "partner", "partner": ""}
    )
    made = admin.post("/panel/team/", {"email": "v@kazan.test", "role": "viewer", "partner": ""})

    assert refused.status_code == 200 and "Выберите партнёра" in refused.content.decode()
    assert not User.objects.filter(email="x@kazan.test").exists()
    assert made.status_code == 302
    assert User.objects.get(email="v@kazan.test").partner_id is None


def test_no_one_invites_an_owner_or_a_partner_of_nowhere(network, net_a):
    owner = net_a.owner.browser_client()

    as_owner = owner.post("/panel/team/", {"email": "o2@kazan.test", "role": "owner"})
    bogus = owner.post(
        "/panel/team/", {"email": "p@kazan.test", "role": "partner", "partner": str(uuid.uuid4())}
    )

    assert as_owner.status_code == bogus.status_code == 200
    assert not User.objects.filter(email__in=["o2@kazan.test", "p@kazan.test"]).exists()


def test_viewers_cannot_invite(network, net_a):
    viewer = net_a.viewer.browser_client()

    response = viewer.post("/panel/team/", {"email": "z@kazan.test", "role": "admin"})

    assert response.status_code == 403
    assert not User.objects.filter(email="z@kazan.test").exists()


def test_network_people_still_see_every_partner(network, net_a):
    html = _html(net_a.viewer.browser_client().get("/panel/payments/"))

    assert "ИП Казанцев" in html and "ИП Уфимцев" in html


def test_recent_payments_ignore_older_than_a_month_for_the_summary(network):
    paid(
        network["kazan"].locations.get(),
        amount="999.00",
        paid_at=timezone.now() - timedelta(days=45),
        title="Старая",
    )
    html = _html(network["client"].get("/panel/"))

    assert re.search(r'id="dash-turnover">\s*1\s?500,00 ₽', html)
