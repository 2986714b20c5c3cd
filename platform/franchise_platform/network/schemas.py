"""Request and response shapes of the network API (CONTRACT.md, "Network API").

Input schemas only type the data; business rules (INN control digits, prepayment bounds, the item
name template) live in rules.py and answer 422 through the services. Passwords are SecretStr so
that no repr, log line or error message can print them, and no output schema has a field for them.
A provider's own block in the partner schemas (Robokassa's ``robokassa``) is built from its
account declaration by account_schemas.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal
from uuid import UUID

from ninja import Field, Schema
from pydantic import SecretStr

from franchise_platform.api_errors import ErrorBody
from franchise_platform.inputs import PrepaymentAmountIn

from .account_schemas import partner_schemas

LegalFormT = Literal["ip", "ooo"]
TaxSystemT = Literal["osn", "usn_income", "usn_income_outcome", "esn", "patent"]
VatT = Literal["none", "vat0", "vat5", "vat7", "vat10", "vat20", "vat22"]
PrepaymentModeT = Literal["percent", "fixed"]


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


class _PartnerIn(Schema):
    name: str
    legal_form: LegalFormT
    inn: str = Field(description="12 digits for ИП, 10 for ООО, checked by the control digits.")
    ogrn: str = Field("", description="Optional: ОГРНИП (15 digits) or ОГРН (13 digits).")
    tax_system: TaxSystemT
    vat: VatT = "none"
    active: bool = True
    provider: str | None = Field(
        None,
        description="Optional: the provider slug of the shop given (GET /api/v1/providers); "
        "another one than the block's answers 422 shop_conflict.",
    )


class _PartnerPatch(Schema):
    name: str | None = None
    legal_form: LegalFormT | None = None
    inn: str | None = None
    ogrn: str | None = None
    tax_system: TaxSystemT | None = None
    vat: VatT | None = None
    active: bool | None = None
    provider: str | None = Field(
        None, description="Optional: the provider slug of the shop block given, checked like it."
    )


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
    target: Literal["login", "secret", "flag", "choice"]
    label: str
    help: str
    required: bool
    secret: bool
    modes: list[str]
    pattern: str | None
    max_length: int
    choices: list[str] = Field(default_factory=list, description="The values of a choice.")
    default: str = ""


class ProviderOut(Schema):
    slug: str
    label: str
    fields: list[AccountFieldOut] = Field(
        description="Declared account fields (a provider with its own block in partners, "
        "Robokassa's, takes the same names there)."
    )
    connects_by_oauth: bool


class _PartnerOut(Schema):
    id: UUID
    name: str
    legal_form: LegalFormT
    inn: str
    ogrn: str
    tax_system: TaxSystemT
    vat: VatT
    active: bool
    provider: str | None = Field(
        None, description="The provider slug of the partner's shop (one of GET /api/v1/providers)."
    )


if TYPE_CHECKING:  # the type checker sees the fixed fields; the blocks are read by name

    class PartnerIn(_PartnerIn):
        provider_account: ProviderAccountIn | None

    class PartnerPatch(_PartnerPatch):
        provider_account: ProviderAccountIn | None

    PartnerOut = _PartnerOut
else:
    PartnerIn, PartnerPatch, PartnerOut = partner_schemas(
        partner_in=_PartnerIn,
        partner_patch=_PartnerPatch,
        partner_out=_PartnerOut,
        account_in=ProviderAccountIn,
        account_out=ProviderAccountOut,
    )


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
