"""The demo network's contents: dummy-provider shops, locations, the dummy CRM bound as the
network's amoCRM account, and deals in every state, made through the real flows (the button's
`deal_links_ensure`, the payment page's invoice, a signed callback applied as the worker applies it)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from billing_providers.dummy.provider import DummyProvider
from crm_connectors import registry
from crm_connectors.dummy.connector import DummyCrmConnector
from crm_connectors.errors import CrmNotFound
from franchise_platform.accounts.models import User
from franchise_platform.crm_sync.connectors import connector_for
from franchise_platform.crm_sync.models import CrmConnection
from franchise_platform.crm_sync.refresh import lead_facts_read
from franchise_platform.crm_sync.sender import fields_ensure
from franchise_platform.flows.button import deal_links_ensure
from franchise_platform.flows.payment import callback_apply
from franchise_platform.network.models import Location, Partner, ProviderAccount
from franchise_platform.payments.callbacks import callback_receive
from franchise_platform.payments.invoicing import invoice_for_link
from franchise_platform.payments.models import CallbackEvent, Deal, Invoice, PaymentLink
from franchise_platform.payments.providers import account_data
from tenants.models import CrmAccountBinding, Network

DEMO_SLUG = "chezaquest"
DEMO_ACCOUNT_ID = 31337001
DEMO_SUBDOMAIN = "chezaquest-demo"
# The lead the README's walk starts from: links not made yet.
WALK_LEAD_ID = 7000


@dataclass(frozen=True)
class DemoShop:
    name: str
    legal_form: str
    inn: str
    tax_system: str
    login: str
    test_mode: bool
    locations: tuple[str, ...]


SHOPS = (
    DemoShop("ИП Гарипов Тимур Ильдарович", "ip", "165000006917", "usn_income", "chq-kazan-1",
             False, ("Квест «Тайная комната», ул. Баумана 1", "Квест «Остров», ул. Пушкина 12")),
    DemoShop("ООО «Квест-Казань»", "ooo", "1655000014", "osn", "chq-kazan-2",
             False, ("Квест «Подземелье», пр. Победы 50",)),
    DemoShop("ИП Сафина Алия Маратовна (тестовый магазин)", "ip", "165000013085", "patent",
             "chq-kazan-test", True, ("Квест «Лаборатория», ул. Кремлёвская 3",)),
)  # fmt: skip

# (lead id, title, price, shop index, location index, what is paid)
LEADS = (
    (WALK_LEAD_ID, "Квест на шестерых, суббота 18:00", "5000", 0, 0, "none"),
    (7001, "День рождения, 8 человек", "6400", 0, 1, "links"),
    (7002, "Корпоратив «Ромашка»", "12000", 1, 0, "prepayment"),
    (7003, "Квест для двоих", "3000", 0, 0, "full"),
    (7004, "Выпускной 11 «Б»", "9000", 1, 0, "overpaid"),
    (7005, "Проверка магазина", "2500", 2, 0, "test"),
)


def demo_connector(account_id: int = DEMO_ACCOUNT_ID) -> DummyCrmConnector:
    """The dummy CRM as the running platform sees it (its leads in the shared file)."""
    options = settings.CRM_CONNECTOR_OPTIONS.get("dummy", {})
    connector = registry.get_connector("dummy", account_id=account_id, **options)
    assert isinstance(connector, DummyCrmConnector)
    return connector


def demo_network_fill(*, network: Network) -> bool:
    """Fill an empty demo network; False (nothing done) when it has partners already."""
    with schema_context("public"):
        CrmAccountBinding.objects.update_or_create(
            crm="dummy",
            account_id=DEMO_ACCOUNT_ID,
            defaults={
                "network": network,
                "state": CrmAccountBinding.State.BOUND,
                "subdomain": DEMO_SUBDOMAIN,
                "base_url": f"https://{DEMO_SUBDOMAIN}.amocrm.ru",
                "client_uuid": settings.AMOCRM_CLIENT_ID,
            },
        )
    with tenant_context(network):
        User.objects.filter(email=network.owner_email, email_verified_at__isnull=True).update(
            email_verified_at=timezone.now()
        )
        if Partner.objects.exists():
            _leads_restore()  # the stand-in CRM's file may be gone while the database stays
            return False
        locations = _shops_create()
        connection = CrmConnection.objects.create(
            crm="dummy",
            account_id=DEMO_ACCOUNT_ID,
            subdomain=DEMO_SUBDOMAIN,
            base_url=f"https://{DEMO_SUBDOMAIN}.amocrm.ru",
            access_token="dummy",
            refresh_token="dummy",
        )
        connector = connector_for(connection)
        fields_ensure(connection, connector)
        connection.refresh_from_db()
        crm = demo_connector()
        for lead_id, title, price, shop, location, paid in LEADS:
            crm.seed_lead(
                lead_id,
                title=title,
                price=Decimal(price),
                location_key=str(locations[shop][location].pk),
            )
            if paid != "none":
                _deal_make(connection, lead_id, paid)
    return True


def _leads_restore() -> None:
    crm = demo_connector()
    for lead_id, title, price, shop, location, _ in LEADS:
        try:
            crm.lead(lead_id)
            continue
        except CrmNotFound:
            pass
        deal = Deal.objects.filter(crm_deal_id=lead_id).select_related("location").first()
        place = (
            deal.location
            if deal and deal.location
            else Location.objects.filter(name=SHOPS[shop].locations[location]).first()
        )
        crm.seed_lead(
            lead_id,
            title=title,
            price=deal.total if deal else Decimal(price),
            location_key=str(place.pk) if place else None,
        )


def _shops_create() -> list[list[Location]]:
    made: list[list[Location]] = []
    with transaction.atomic():
        for shop in SHOPS:
            partner = Partner.objects.create(
                name=shop.name,
                legal_form=shop.legal_form,
                inn=shop.inn,
                tax_system=shop.tax_system,
                vat="none",
            )
            ProviderAccount.objects.create(
                partner=partner,
                provider="dummy",
                merchant_login=shop.login,
                password1=secrets.token_urlsafe(16),
                password2=secrets.token_urlsafe(16),
                test_mode=shop.test_mode,
            )
            made.append(
                [Location.objects.create(name=name, partner=partner) for name in shop.locations]
            )
    return made


def _deal_make(connection: CrmConnection, lead_id: int, paid: str) -> Deal:
    deal = deal_links_ensure(facts=lead_facts_read(crm=connection, lead_id=lead_id))
    links = {link.kind: link for link in PaymentLink.objects.filter(deal=deal, status="active")}
    if paid == "overpaid":
        # The buyer opens the full link, then pays the prepayment elsewhere, then the full
        # invoice still open in the first tab: more than the total arrives.
        stale_full = _invoice_open(links["full"])
        _pay(_invoice_open(links["prepayment"]))
        _pay(stale_full)
    elif paid in ("prepayment", "test"):
        _pay(_invoice_open(links["prepayment"]))
    elif paid == "full":
        _pay(_invoice_open(links["full"]))
    deal.refresh_from_db()
    return deal


def _invoice_open(link: PaymentLink) -> Invoice:
    decision = invoice_for_link(token=link.token)  # what a buyer's visit to /pay/<token> does
    assert decision.redirect_to, decision
    return Invoice.objects.filter(link=link).latest("created_at")


def _pay(invoice: Invoice) -> None:
    """What the stand-in payment page's «Оплатить» sends, applied here at once (the worker may
    not run yet; its own run later finds the event applied and does nothing)."""
    account = invoice.provider_account
    params = DummyProvider().callback_params(
        account_data(account), invoice.pk, invoice.amount, extra={"mark": invoice.marker}
    )
    answer = callback_receive(
        partner_id=str(account.partner_id),
        raw={k: [v] for k, v in params.items()},
        provider_slug="dummy",
    )
    assert answer.status == 200, answer.body
    event = CallbackEvent.objects.filter(invoice_number=invoice.pk).order_by("-received_at")[0]
    callback_apply(event_id=str(event.pk))
