"""From the button in the deal to a paid deal, exactly once (issue 6, item 8)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.payments.models import CallbackEvent, Deal, Payment
from tests.live import max_rps_since, wait_for

pytestmark = pytest.mark.worker

IP_INN = "500100732259"
OOO_INN = "7707083893"


def _setup(net):
    ip = net.add_partner(
        name="ИП Иванов Иван Иванович",
        legal_form="ip",
        inn=IP_INN,
        tax_system="usn_income",
        vat="none",
        login=f"{net.slug}-ip",
        algorithm="md5",
    )
    ooo = net.add_partner(
        name="ООО «Квесты Казани»",
        legal_form="ooo",
        inn=OOO_INN,
        tax_system="osn",
        vat="vat22",
        login=f"{net.slug}-ooo",
        algorithm="sha256",
    )
    baumana = net.add_location("Квест «Тайная комната», ул. Баумана 1", ip)
    net.add_location("Квест «Подземелье», ул. Пушкина 5", ip)
    kremlin = net.add_location("Квест «Кремль», ул. Кремлёвская 2", ooo)
    net.connect_amocrm()
    return ip, ooo, baumana, kremlin


def _links(body):
    return {link["kind"]: link for link in body["links"]}


def test_button_to_paid_deal(live_network):
    net = live_network
    ip, _, baumana, _ = _setup(net)
    lead_id = 7001
    connected_at = time.monotonic()
    net.amo.set_lead(
        net.account_id,
        lead_id,
        5000,
        location_enum_id=net.location_enum(baumana),
        name="Квест на 6",
    )

    pressed = net.widget("POST", lead_id)
    assert pressed.status_code == 200, pressed.text
    body = pressed.json()
    assert body["partner"]["id"] == ip["id"]
    links = _links(body)
    assert links["prepayment"]["amount"] == "1500.00"
    assert links["full"]["amount"] == "5000.00"
    assert net.widget("POST", lead_id).json()["links"] == body["links"]  # second press: same links

    # The links and a note reach the lead through the outbox.
    wait_for(
        lambda: links["full"]["url"] in net.amo.lead_values(net.account_id, lead_id).values(),
        what="links written into the lead",
    )

    inv_id, out_sum, delivery = net.pay(links["prepayment"]["url"])
    assert out_sum == Decimal("1500.00")
    assert delivery.status == 200
    assert delivery.body == f"OK{inv_id}"

    wait_for(
        lambda: (
            Decimal(str(net.amo.lead_values(net.account_id, lead_id).get("Оплачено", 0)))
            == Decimal("1500")
        ),
        what="paid sum in the lead",
    )
    notes = [n["params"]["text"] for n in net.amo.notes(net.account_id, lead_id)]
    assert any(
        "Оплата 1500.00 ₽ получена" in text and ip["name"] in text and str(inv_id) in text
        for text in notes
    )
    after_prepayment = _links(net.widget("GET", lead_id).json())
    assert after_prepayment["full"]["amount"] == "3500.00"
    assert after_prepayment["full"]["url"] == links["full"]["url"]  # same URL, new amount
    assert after_prepayment["prepayment"]["status"] == "paid"

    rest_id, rest_sum, _ = net.pay(links["full"]["url"])
    assert rest_sum == Decimal("3500.00")

    final = wait_for(
        lambda: (b := net.widget("GET", lead_id).json())["deal"]["status"] == "paid" and b,
        what="deal paid",
    )
    assert final["deal"]["paid"] == "5000.00"
    assert final["deal"]["remaining"] == "0.00"
    wait_for(
        lambda: net.amo.lead_values(net.account_id, lead_id).get("Статус оплаты") == "Оплачено",
        what="status in the lead",
    )
    with tenant_context(net.network()):
        assert Payment.objects.count() == 2
        assert sorted(Payment.objects.values_list("kind", flat=True)) == ["prepayment", "remainder"]
        deal = Deal.objects.get(crm_deal_id=lead_id)
        assert deal.status == "paid"
    assert max_rps_since(net.amo, net.account_id, connected_at) <= 7


def test_second_partner_uses_its_own_shop_and_algorithm(live_network):
    net = live_network
    _, ooo, _, kremlin = _setup(net)
    net.amo.set_lead(net.account_id, 7002, 3000, location_enum_id=net.location_enum(kremlin))

    links = _links(net.widget("POST", 7002).json())
    inv_id, _, delivery = net.pay(links["full"]["url"])

    assert delivery.body == f"OK{inv_id}"
    with tenant_context(net.network()):
        payment = wait_for(
            lambda: Payment.objects.filter(invoice_id=inv_id).first(), what="payment"
        )
        assert str(payment.partner_id) == ooo["id"]
        assert payment.invoice.provider_account.hash_algorithm == "sha256"


def test_same_callback_fifty_times_in_parallel_records_one_payment(live_network):
    from concurrent.futures import ThreadPoolExecutor

    net = live_network
    ip, _, baumana, _ = _setup(net)
    net.amo.set_lead(net.account_id, 7003, 2000, location_enum_id=net.location_enum(baumana))
    links = _links(net.widget("POST", 7003).json())
    inv_id, _, _ = net.pay(links["full"]["url"], notify=False)
    login = f"{net.slug}-ip"
    form = net.robokassa.build_result_callback(
        login, inv_id, net.robokassa.invoice(login, inv_id).out_sum
    )
    result_url = ip["robokassa"]["result_url"]

    def post(_):
        with net.server.client() as client:
            response = client.post(result_url, data=form)
            return response.status_code, response.text

    with ThreadPoolExecutor(max_workers=25) as pool:
        answers = list(pool.map(post, range(50)))

    assert set(answers) == {(200, f"OK{inv_id}")}
    with tenant_context(net.network()):
        wait_for(lambda: Payment.objects.filter(invoice_id=inv_id).exists(), what="payment")
        assert Payment.objects.count() == 1
        assert CallbackEvent.objects.filter(accepted=True).count() == 1
        assert Deal.objects.get(crm_deal_id=7003).paid == Decimal("2000.00")
