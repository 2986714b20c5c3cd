"""Partners (franchisees), their payment-provider accounts, locations and the network's settings."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from billing_providers import registry
from franchise_platform.security.fields import EncryptedField


class LegalForm(models.TextChoices):
    IP = "ip", _("ИП")
    OOO = "ooo", _("ООО")


class TaxSystem(models.TextChoices):
    OSN = "osn", _("ОСН")
    USN_INCOME = "usn_income", _("УСН «Доходы»")
    USN_INCOME_OUTCOME = "usn_income_outcome", _("УСН «Доходы минус расходы»")
    ESN = "esn", _("ЕСХН")
    PATENT = "patent", _("Патент")


class Vat(models.TextChoices):
    NONE = "none", _("Без НДС")
    VAT0 = "vat0", _("НДС 0%")
    VAT5 = "vat5", _("НДС 5%")
    VAT7 = "vat7", _("НДС 7%")
    VAT10 = "vat10", _("НДС 10%")
    VAT20 = "vat20", _("НДС 20%")
    VAT22 = "vat22", _("НДС 22%")


# Far above any shop's own order numbers, and leaves over a billion InvIds below 2^31-1.
DEFAULT_INVOICE_NUMBER_START = 1_000_000_000
INVOICE_NUMBER_MAX = 2_147_483_647


class HashAlgorithm(models.TextChoices):
    MD5 = "md5", "MD5"
    RIPEMD160 = "ripemd160", "RIPEMD-160"
    SHA1 = "sha1", "SHA-1"
    SHA256 = "sha256", "SHA-256"
    SHA384 = "sha384", "SHA-384"
    SHA512 = "sha512", "SHA-512"


class Partner(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("название"), max_length=300)
    legal_form = models.CharField(_("форма"), max_length=8, choices=LegalForm.choices)
    inn = models.CharField(_("ИНН"), max_length=12)
    ogrn = models.CharField(_("ОГРН / ОГРНИП"), max_length=15, blank=True)
    tax_system = models.CharField(
        _("система налогообложения"), max_length=32, choices=TaxSystem.choices
    )
    vat = models.CharField(_("НДС"), max_length=8, choices=Vat.choices, default=Vat.NONE)
    active = models.BooleanField(_("активен"), default=True)
    shop_checked_at = models.DateTimeField(null=True, blank=True)
    shop_check_error = models.CharField(max_length=300, blank=True)
    # A notice for the owner about a tax setting the platform changed (the 2026 VAT move).
    tax_notice = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("партнёр")
        verbose_name_plural = _("партнёры")

    def __str__(self) -> str:
        return self.name


class ProviderAccount(models.Model):
    """A partner's shop at a payment provider, as its provider declares it (billing_providers
    .base.AccountField): the login, the flags, and the secrets sealed with the network's data key.
    The five password columns and ``hash_algorithm`` predate the declaration; a declaration names
    them as its fields' ``column`` (Robokassa's), every other secret goes to ``provider_secrets``."""

    SECRET_FIELDS = ("password1", "password2", "test_password1", "test_password2", "password3")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.OneToOneField(
        Partner, on_delete=models.CASCADE, related_name="provider_account"
    )
    provider = models.CharField(max_length=32, default=registry.DEFAULT_PROVIDER)
    merchant_login = models.CharField(_("идентификатор магазина"), max_length=100)
    password1 = EncryptedField(blank=True, null=True)
    password2 = EncryptedField(blank=True, null=True)
    test_password1 = EncryptedField(blank=True, null=True)
    test_password2 = EncryptedField(blank=True, null=True)
    # A refund secret (declared by the provider as this column); optional.
    password3 = EncryptedField(blank=True, null=True)
    # The secrets of any other provider, as its account declaration names them (YooKassa:
    # ``secret_key`` or ``oauth_token``): one sealed JSON object {name: value}, never shown back.
    provider_secrets = EncryptedField(blank=True, null=True)
    hash_algorithm = models.CharField(
        max_length=16, choices=HashAlgorithm.choices, default=HashAlgorithm.MD5
    )
    test_mode = models.BooleanField(_("тестовый режим"), default=False)
    fiscalization = models.BooleanField(_("фискализация (чеки 54-ФЗ)"), default=False)
    # Our InvIds for this shop start here, above the shop's own numbering (its site or cabinet),
    # so a buyer never meets error 40 and an old operation is never taken for ours. Checked with
    # OpStateExt before the first invoice (numbers_checked_at); a change re-checks.
    invoice_number_start = models.BigIntegerField(
        _("первый номер счёта"), default=DEFAULT_INVOICE_NUMBER_START
    )
    invoice_numbers_checked_at = models.DateTimeField(null=True, blank=True)
    invoice_numbers_problem = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.provider}:{self.merchant_login}"


class Location(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("название"), max_length=300)
    address = models.CharField(_("адрес"), max_length=500, blank=True)
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="locations")
    active = models.BooleanField(_("активна"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("локация")
        verbose_name_plural = _("локации")

    def __str__(self) -> str:
        return self.name


class PrepaymentMode(models.TextChoices):
    PERCENT = "percent", _("Процент от суммы")
    FIXED = "fixed", _("Фиксированная сумма")


def default_delivered_status_ids() -> list[int]:
    return [142]


class NetworkSettings(models.Model):
    """One row per network schema (pk=1)."""

    prepayment_mode = models.CharField(
        max_length=16, choices=PrepaymentMode.choices, default=PrepaymentMode.PERCENT
    )
    prepayment_value = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=Decimal("30"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    invoice_ttl_hours = models.PositiveIntegerField(default=24)
    item_name = models.CharField(max_length=128, default="Участие в квесте «{location}»")
    # CRM stages (amoCRM status ids) in which a lead counts as delivered; 142 is amoCRM's
    # «Успешно реализовано» in every pipeline.
    delivered_status_ids = models.JSONField(default=default_delivered_status_ids, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("настройки сети")

    def __str__(self) -> str:
        return "network settings"
