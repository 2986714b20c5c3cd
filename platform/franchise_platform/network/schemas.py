"""Request and response shapes of the network API (CONTRACT.md, "Network API").

Input schemas only type the data; business rules (INN control digits, prepayment bounds, the item
name template) live in rules.py and answer 422 through the services. Passwords are SecretStr so
that no repr, log line or error message can print them, and no output schema has a field for them.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from ninja import Field, Schema
from pydantic import SecretStr

from franchise_platform.api_errors import ErrorBody
from franchise_platform.inputs import PrepaymentAmountIn

LegalFormT = Literal["ip", "ooo"]
TaxSystemT = Literal["osn", "usn_income", "usn_income_outcome", "esn", "patent"]
VatT = Literal["none", "vat0", "vat5", "vat7", "vat10", "vat20", "vat22"]
HashAlgorithmT = Literal["md5", "ripemd160", "sha1", "sha256", "sha384", "sha512"]
PrepaymentModeT = Literal["percent", "fixed"]


class RobokassaIn(Schema):
    merchant_login: str = Field(
        description="«Идентификатор магазина» from the shop's technical settings."
    )
    password1: SecretStr = Field(description="Password #1. Write-only: never returned.")
    password2: SecretStr = Field(description="Password #2. Write-only: never returned.")
    test_password1: SecretStr | None = Field(
        None, description="Test password #1 (needed for test mode)."
    )
    test_password2: SecretStr | None = Field(
        None, description="Test password #2 (needed for test mode)."
    )
    password3: SecretStr | None = Field(
        None,
        description="Password #3, for refunds through Robokassa's Refund API only (optional). "
        "Write-only: never returned.",
    )
    hash_algorithm: HashAlgorithmT = "md5"
    test_mode: bool = False
    fiscalization: bool = False
    invoice_number_start: int | None = Field(
        None,
        description="The first InvId the platform uses for this shop (default 1000000000): keep it "
        "above the order numbers of the shop's own site. Checked with OpStateExt before use.",
    )


class RobokassaPatch(Schema):
    """Only the fields sent change; a password that is absent or empty keeps the stored one."""

    merchant_login: str | None = None
    password1: SecretStr | None = None
    password2: SecretStr | None = None
    test_password1: SecretStr | None = None
    test_password2: SecretStr | None = None
    password3: SecretStr | None = None
    hash_algorithm: HashAlgorithmT | None = None
    test_mode: bool | None = None
    fiscalization: bool | None = None
    invoice_number_start: int | None = Field(
        None,
        description="The first InvId the platform uses for this shop (default 1000000000): keep it "
        "above the order numbers of the shop's own site. Checked with OpStateExt before use.",
    )


class ProviderAccountIn(Schema):
    """A shop at a provider that declares its settings (GET /api/v1/providers lists them), e.g.
    YooKassa: ``{"provider": "yookassa", "values": {"shop_id": "…", "secret_key": "…"}}``."""

    provider: str = Field(description="A provider slug from GET /api/v1/providers.")
    values: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="The provider's declared fields by name (its login and secrets). Secrets "
        "are write-only: never returned; absent or empty keeps the stored one.",
    )
    test_mode: bool | None = None
    fiscalization: bool | None = None


class PartnerIn(Schema):
    name: str
    legal_form: LegalFormT
    inn: str = Field(description="12 digits for ИП, 10 for ООО, checked by the control digits.")
    ogrn: str = Field("", description="Optional: ОГРНИП (15 digits) or ОГРН (13 digits).")
    tax_system: TaxSystemT
    vat: VatT = "none"
    active: bool = True
    robokassa: RobokassaIn | None = Field(
        None, description="A Robokassa shop. One of robokassa or provider_account is required."
    )
    provider_account: ProviderAccountIn | None = Field(
        None, description="A shop at another provider (YooKassa), from its declared fields."
    )


class PartnerPatch(Schema):
    name: str | None = None
    legal_form: LegalFormT | None = None
    inn: str | None = None
    ogrn: str | None = None
    tax_system: TaxSystemT | None = None
    vat: VatT | None = None
    active: bool | None = None
    robokassa: RobokassaPatch | None = Field(
        None, description="Robokassa's fields; moves a shop at another provider to Robokassa."
    )
    provider_account: ProviderAccountIn | None = Field(
        None, description="Declared fields; another provider than the current one moves the shop."
    )


class RobokassaOut(Schema):
    merchant_login: str
    hash_algorithm: HashAlgorithmT
    test_mode: bool
    fiscalization: bool
    invoice_number_start: int
    refunds_enabled: bool = Field(
        False,
        description="The shop's Refund API key (Robokassa's third secret) is set: refunds can "
        "be made through the platform.",
    )
    result_url: str = Field(
        description="Paste as Result URL (method POST) in the shop's technical settings."
    )
    success_url: str
    fail_url: str


class CabinetAddressOut(Schema):
    name: str
    label: str
    url: str = Field(description="Paste into the provider's cabinet.")
    help: str


class ProviderAccountOut(Schema):
    provider: str
    login: str = Field(description="The shop's id at the provider (Robokassa: merchant_login).")
    test_mode: bool
    fiscalization: bool
    secrets_set: list[str] = Field(description="Names of the secrets stored (never their values).")
    addresses: list[CabinetAddressOut]


class AccountFieldOut(Schema):
    name: str
    target: Literal["login", "secret", "flag"]
    label: str
    help: str
    required: bool
    secret: bool
    modes: list[str]
    pattern: str | None
    max_length: int


class ProviderOut(Schema):
    slug: str
    label: str
    fields: list[AccountFieldOut] = Field(
        description="Declared account fields; empty for Robokassa (its own block)."
    )
    connects_by_oauth: bool


class PartnerOut(Schema):
    id: UUID
    name: str
    legal_form: LegalFormT
    inn: str
    ogrn: str
    tax_system: TaxSystemT
    vat: VatT
    active: bool
    robokassa: RobokassaOut | None = Field(description="Set when the shop is at Robokassa.")
    provider_account: ProviderAccountOut | None = None


class LocationIn(Schema):
    name: str
    partner_id: UUID
    address: str = ""
    active: bool = True


class LocationPatch(Schema):
    name: str | None = None
    partner_id: UUID | None = None
    address: str | None = None
    active: bool | None = None


class LocationOut(Schema):
    id: UUID
    name: str
    address: str
    partner_id: UUID
    active: bool


class PrepaymentIn(Schema):
    mode: PrepaymentModeT
    value: PrepaymentAmountIn = Field(
        description='A decimal string: a percent ("30") or rubles ("1000.00").'
    )


class PrepaymentOut(Schema):
    mode: PrepaymentModeT
    value: str = Field(description="A decimal string with two places.")


class SettingsIn(Schema):
    prepayment: PrepaymentIn
    invoice_ttl_hours: int
    item_name: str = Field(description="Receipt line; the only placeholder allowed is {location}.")
    delivered_status_ids: list[int] | None = Field(
        None,
        description="CRM stage (amoCRM status) ids in which a lead counts as delivered; "
        "settlement receipts follow. Omitted: unchanged. Default [142].",
    )


class SettingsOut(Schema):
    prepayment: PrepaymentOut
    invoice_ttl_hours: int
    item_name: str
    delivered_status_ids: list[int]


class NetworkOut(Schema):
    slug: str
    name: str


class MeOut(Schema):
    email: str
    role: Literal["owner", "admin", "viewer", "partner"]
    # The partner a `partner` user is confined to; null for the network's roles.
    partner_id: str | None = None
    network: NetworkOut


# One error schema for every API (api_errors.py), so the OpenAPI names one component for it.
ErrorOut = ErrorBody
