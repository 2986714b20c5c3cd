"""The buyer's contact for a receipt the provider sends itself (issue 16, item 4.1): a YooKassa
shop with receipts needs the buyer's e-mail (or phone) in the payment request (54-ФЗ), so the pay
page asks for it first, checks it, keeps it on the deal and only then creates the payment. A
contact the deal knows skips the question; Robokassa's flow is unchanged."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from franchise_platform.payments.models import Deal, Invoice, InvoiceStatus, LinkKind, Payment
from tests.factories import shop
from tests.fakes.yookassa import FakeYooKassa

from .helpers import active_link, deal_with_links, visit
from .yookassa_helpers import yookassa_options, yookassa_shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(settings):
    fake = FakeYooKassa()
    yookassa_options(settings, fake)
    return fake


def _sent_customer(fake):
    """The receipt's customer of the last payment created at the fake, as our request sent it."""
    bodies = [b for m, path, _q, b in fake.requests if m == "POST" and path == "/v3/payments"]
    return json.loads(bodies[-1])["receipt"]["customer"]


def _receipt_link(fake, **shop_options):
    account = yookassa_shop(fake, fiscalization=True)
    for name, value in shop_options.items():
        setattr(fake.shops[account.merchant_login], name, value)
    deal = deal_with_links(account.partner.locations.get())
    return account, deal, active_link(deal, LinkKind.PREPAYMENT)


def test_a_receipt_shop_asks_the_buyer_for_a_contact_before_any_payment(in_network, fake):
    _, deal, link = _receipt_link(fake)

    response, _ = visit(in_network.anonymous(), link)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Куда отправить чек?" in page
    assert 'name="email"' in page and 'name="phone"' in page
    assert not Invoice.objects.exists() and not fake.payments


def test_the_given_email_is_kept_on_the_deal_and_sent_with_the_payment(in_network, fake):
    _, deal, link = _receipt_link(fake)
    buyer = in_network.anonymous()

    answer = buyer.post(f"/pay/{link.token}", {"email": "  anna@example.ru "})

    # On to the link by a refresh (a redirect after a form would meet the form-action policy).
    assert answer.status_code == 200
    assert (
        f'<meta http-equiv="refresh" content="0;url=/pay/{link.token}">' in answer.content.decode()
    )
    assert Deal.objects.get(pk=deal.pk).buyer_email == "anna@example.ru"
    response, _ = visit(buyer, link)
    assert response.status_code == 302
    invoice = Invoice.objects.get()
    payment = fake.payment(invoice.provider_reference)
    assert response["Location"] == payment["confirmation"]["confirmation_url"]
    assert _sent_customer(fake) == {"email": "anna@example.ru"}
    # The next visit reuses the invoice: the contact is part of what was signed, unchanged.
    again, _ = visit(buyer, link)
    assert again["Location"] == response["Location"] and Invoice.objects.count() == 1


def test_a_phone_goes_to_a_third_party_register_in_digits(in_network, fake):
    _, deal, link = _receipt_link(fake, fiscal_provider="atol")
    buyer = in_network.anonymous()

    buyer.post(f"/pay/{link.token}", {"phone": "8 (900) 123-45-67"})
    response, _ = visit(buyer, link)

    assert response.status_code == 302
    assert Deal.objects.get(pk=deal.pk).buyer_phone == "79001234567"
    assert Invoice.objects.get().provider_reference in fake.payments
    assert _sent_customer(fake) == {"phone": "79001234567"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Укажите электронную почту или телефон"),
        ({"email": "   "}, "Укажите электронную почту или телефон"),
        ({"email": "not-an-address"}, "Похоже, в адресе ошибка"),
        ({"email": "a@example.ru\r\nBcc: all@example.ru"}, "Похоже, в адресе ошибка"),
        ({"email": "<script>@x.ru"}, "Похоже, в адресе ошибка"),
        ({"email": "a" * 250 + "@example.ru"}, "Ensure this value has at most 254"),
        ({"email": "x" * 100_000}, "Ensure this value has at most 254"),
        ({"phone": "позвоните мне"}, "Укажите номер целиком"),
        ({"phone": "123"}, "Укажите номер целиком"),
        ({"phone": "+7 900 123 45 67 89 00 11"}, "Укажите номер целиком"),
        # Stopped at the door by the platform's input guard, still a 400 in Russian.
        ({"phone": "7900\x001234567"}, "Запрос содержит недопустимые символы"),
    ],
)
def test_hostile_contacts_get_a_clear_message_and_change_nothing(in_network, fake, data, message):
    _, deal, link = _receipt_link(fake)

    response = in_network.anonymous().post(f"/pay/{link.token}", data)

    assert response.status_code == 400
    page = response.content.decode()
    assert message in page or "Убедитесь, что это значение содержит не более 254" in page
    deal.refresh_from_db()
    assert (deal.buyer_email, deal.buyer_phone) == ("", "")
    assert not Invoice.objects.exists() and not fake.payments


def test_a_phone_refused_by_chekі_ot_yukassa_asks_for_an_email_again(in_network, fake):
    """Чеки от ЮKassa send receipts by e-mail only (§4.1): the payment with a phone is refused,
    the phone forgotten, the buyer asked for an e-mail; the refused invoice is never handed out."""
    _, deal, link = _receipt_link(fake)  # fiscal_provider "avanpost"
    buyer = in_network.anonymous()
    buyer.post(f"/pay/{link.token}", {"phone": "+79001234567"})

    response, _ = visit(buyer, link)

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="contact-refused"' in page and 'name="email"' in page and 'name="phone"' not in page
    deal.refresh_from_db()
    assert (deal.buyer_email, deal.buyer_phone) == ("", "")
    assert list(Invoice.objects.values_list("status", flat=True)) == [InvoiceStatus.RETIRED]
    assert not fake.payments
    buyer.post(f"/pay/{link.token}", {"email": "anna@example.ru"})
    paid_page, _ = visit(buyer, link)
    assert paid_page.status_code == 302


def test_a_second_visitor_cannot_replace_the_contact(in_network, fake):
    _, deal, link = _receipt_link(fake)
    in_network.anonymous().post(f"/pay/{link.token}", {"email": "anna@example.ru"})

    answer = in_network.anonymous().post(f"/pay/{link.token}", {"email": "thief@example.ru"})

    # The contact is known now: the link is simply followed; the stored contact stays.
    assert answer.status_code == 302
    assert Deal.objects.get(pk=deal.pk).buyer_email == "anna@example.ru"
    assert _sent_customer(fake) == {"email": "anna@example.ru"}


def test_a_contact_from_an_earlier_payment_of_the_deal_skips_the_question(in_network, fake):
    account, deal, link = _receipt_link(fake)
    earlier = Invoice.objects.create(
        id=900001,
        link=link,
        deal=deal,
        provider_account=account,
        provider="yookassa",
        amount=link.amount,
        payment_kind="prepayment",
        status=InvoiceStatus.PAID,
        payment_url="",
        expires_at=timezone.now() - timedelta(hours=1),
    )
    Payment.objects.create(
        invoice=earlier,
        deal=deal,
        partner=account.partner,
        amount=link.amount,
        kind="prepayment",
        paid_at=timezone.now() - timedelta(hours=1),
        buyer_email="crm-contact@example.ru",
    )

    response, _ = visit(in_network.anonymous(), active_link(deal, LinkKind.FULL))

    assert response.status_code == 302
    assert Invoice.objects.exclude(pk=earlier.pk).get().provider_reference in fake.payments
    assert _sent_customer(fake) == {"email": "crm-contact@example.ru"}


def test_a_shop_without_receipts_through_yookassa_asks_nothing(in_network, fake):
    account = yookassa_shop(fake, fiscalization=False)
    deal = deal_with_links(account.partner.locations.get())

    response, _ = visit(in_network.anonymous(), active_link(deal, LinkKind.FULL))

    assert response.status_code == 302
    assert not fake.payment(Invoice.objects.get().provider_reference)["_receipt"]


def test_robokassa_with_receipts_keeps_its_flow(in_network):
    account = shop(fiscalization=True)
    deal = deal_with_links(account.partner.locations.get())

    response, query = visit(in_network.anonymous(), active_link(deal, LinkKind.FULL))

    assert response.status_code == 302 and "Receipt" in query
    assert Deal.objects.get(pk=deal.pk).buyer_email == ""


def test_an_unknown_token_is_404_for_the_form_too(in_network, fake):
    assert in_network.anonymous().post("/pay/nope", {"email": "a@example.ru"}).status_code == 404


def test_the_settlement_receipt_goes_to_the_email_given_on_the_pay_page(in_network, fake):
    """YooKassa's notification carries no e-mail: the settlement receipt after delivery goes
    to the address the buyer gave before paying, not waiting for the CRM's contact."""
    from franchise_platform.flows.payment import callback_apply
    from franchise_platform.flows.settlement import settlement_receipt_process
    from franchise_platform.payments.delivery import DeliverySource, deal_deliver
    from franchise_platform.payments.models import CallbackEvent, SettlementReceipt

    account, deal, link = _receipt_link(fake)
    buyer = in_network.anonymous()
    buyer.post(f"/pay/{link.token}", {"email": "anna@example.ru"})
    visit(buyer, link)
    paid = fake.pay(Invoice.objects.get().provider_reference)
    buyer.post(
        f"/callbacks/yookassa/{account.partner_id}/notification/",
        data=json.dumps(fake.notification("payment.succeeded", paid)),
        content_type="application/json",
        REMOTE_ADDR="127.0.0.1",
    )
    callback_apply(event_id=str(CallbackEvent.objects.get().pk))

    deal_deliver(deal_id=deal.pk, source=DeliverySource.PANEL)
    SettlementReceipt.objects.update(next_attempt_at=timezone.now())
    for receipt in SettlementReceipt.objects.all():
        settlement_receipt_process(receipt_id=receipt.pk)

    receipt = SettlementReceipt.objects.get()
    assert receipt.email == "anna@example.ru" and not receipt.waiting_for_contact
    bodies = [json.loads(b) for m, p, _q, b in fake.requests if m == "POST" and p == "/v3/receipts"]
    assert bodies and bodies[-1]["customer"] == {"email": "anna@example.ru"}
