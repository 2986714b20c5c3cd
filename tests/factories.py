"""factory_boy factories for a network's data. They write into the CURRENT schema: use them inside
`tenant_context(network)` (or the `in_network` fixture)."""

from __future__ import annotations

from decimal import Decimal

import factory

from franchise_platform.network.models import Location, NetworkSettings, Partner, ProviderAccount
from franchise_platform.payments.models import Deal

# Valid INNs (control digits checked): a 12-digit one for ИП, a 10-digit one for ООО.
IP_INN = "500100732259"
OOO_INN = "7707083893"


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"ИП Партнёр {n}")
    legal_form = "ip"
    inn = IP_INN
    tax_system = "usn_income"
    vat = "none"
    active = True


class ProviderAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProviderAccount

    partner = factory.SubFactory(PartnerFactory)
    provider = "robokassa"
    merchant_login = factory.Sequence(lambda n: f"shop-{n}")
    password1 = factory.Sequence(lambda n: f"pass1-{n}-Aa")
    password2 = factory.Sequence(lambda n: f"pass2-{n}-Bb")
    test_password1 = factory.Sequence(lambda n: f"test1-{n}-Cc")
    test_password2 = factory.Sequence(lambda n: f"test2-{n}-Dd")
    hash_algorithm = "md5"
    test_mode = False
    fiscalization = False


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    name = factory.Sequence(lambda n: f"Квест «Комната {n}»")
    address = "Казань, ул. Баумана, 1"
    partner = factory.SubFactory(PartnerFactory)
    active = True


def shop(**kwargs) -> ProviderAccount:
    """A partner with its Robokassa shop and one location (returned via .partner.locations)."""
    account = ProviderAccountFactory(**kwargs)
    LocationFactory(partner=account.partner)
    return account


def settings_set(
    *, mode: str = "percent", value: str = "30", ttl_hours: int = 24
) -> NetworkSettings:
    obj, _ = NetworkSettings.objects.get_or_create(pk=1)
    obj.prepayment_mode = mode
    obj.prepayment_value = Decimal(value)
    obj.invoice_ttl_hours = ttl_hours
    obj.save()
    return obj


class DealFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deal

    crm = "amocrm"
    crm_deal_id = factory.Sequence(lambda n: 7000 + n)
    title = factory.Sequence(lambda n: f"Сделка {n}")
    total = Decimal("5000.00")
