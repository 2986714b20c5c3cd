"""Partners and their Robokassa shops: create, change, delete."""

from __future__ import annotations

from typing import Any, TypedDict

from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from billing_providers import registry
from billing_providers.base import AccountField
from billing_providers.base import account_problems as base_account_problems
from billing_providers.errors import ProviderConfigError
from franchise_platform.payments.invoicing import invoices_retire_open
from franchise_platform.payments.selectors import partner_has_unpaid_links
from franchise_platform.security.audit import audit_record

from .. import rules
from ..errors import DeleteRefused, InputRejected, Problem, reject_if_any
from ..models import HashAlgorithm, Partner, ProviderAccount, Vat

SHOP_SECRETS = ProviderAccount.SECRET_FIELDS
SHOP_PLAIN = (
    "merchant_login",
    "hash_algorithm",
    "test_mode",
    "fiscalization",
    "invoice_number_start",
)
PARTNER_FIELDS = ("name", "legal_form", "inn", "ogrn", "tax_system", "vat", "active")
# Partner fields signed into an invoice's receipt: a change makes its open invoices stale.
RECEIPT_FIELDS = ("tax_system", "vat")


class ShopInput(TypedDict, total=False):
    """A Robokassa shop's settings. An absent or empty password keeps the stored one."""

    merchant_login: str
    password1: str
    password2: str
    test_password1: str
    test_password2: str
    password3: str
    hash_algorithm: str
    test_mode: bool
    fiscalization: bool
    invoice_number_start: int


class PartnerChanges(TypedDict, total=False):
    name: str
    legal_form: str
    inn: str
    ogrn: str
    tax_system: str
    vat: str
    active: bool


def _partner_values(values: dict[str, Any]) -> dict[str, Any]:
    values["name"] = rules.one_line(values["name"])
    values["inn"] = rules.digits_only(values["inn"])
    values["ogrn"] = rules.digits_only(values["ogrn"])
    return values


def _shop_apply(account: ProviderAccount, shop: ShopInput) -> dict[str, tuple[Any, Any]]:
    """Check the shop's resulting state, apply it to `account` (unsaved) and return what changed."""
    new_secrets = {name: shop[name] for name in SHOP_SECRETS if shop.get(name)}  # type: ignore[literal-required]
    plain: dict[str, Any] = {name: shop.get(name, getattr(account, name)) for name in SHOP_PLAIN}
    plain["merchant_login"] = str(plain["merchant_login"] or "").strip()
    kept = {name for name in SHOP_SECRETS if name not in new_secrets and getattr(account, name)}
    problems = rules.shop_problems(
        merchant_login=plain["merchant_login"],
        hash_algorithm=plain["hash_algorithm"],
        test_mode=bool(plain["test_mode"]),
        present_secrets=kept | set(new_secrets),
        secret_lengths={name: len(value) for name, value in new_secrets.items()},
    )
    problem = rules.invoice_number_start_problem(plain["invoice_number_start"])
    reject_if_any(problems + ([problem] if problem else []))
    changes: dict[str, tuple[Any, Any]] = {}
    new_shop = account._state.adding  # a new shop's audit entry lists every setting, defaults too
    for name, value in plain.items():
        if new_shop or getattr(account, name) != value:
            changes[f"robokassa.{name}"] = (None if new_shop else getattr(account, name), value)
            setattr(account, name, value)
    for name, value in new_secrets.items():
        # Compared only to avoid a needless "changed" line; the values never leave this function.
        if getattr(account, name) != value:
            changes[f"robokassa.{name}"] = (None, None)
            setattr(account, name, value)
    if "robokassa.invoice_number_start" in changes or "robokassa.merchant_login" in changes:
        # Another start, or another shop: its numbers are checked again before the next invoice.
        account.invoice_numbers_checked_at = None
        account.invoice_numbers_problem = ""
    return changes


class AccountInput(TypedDict, total=False):
    """A shop at any provider that declares its account fields (billing_providers.base
    .AccountField): ``values`` holds the login and secret fields by their declared names; an
    absent or empty secret keeps the stored one (unless the provider changes)."""

    provider: str
    values: dict[str, str]
    test_mode: bool
    fiscalization: bool


ACCOUNT_PREFIX = "provider_account"
_PROBLEM_TEXT = {
    "required": _lazy("Заполните поле «%(label)s»."),
    "too_long": _lazy("Поле «%(label)s» слишком длинное."),
    "bad_format": _lazy("Поле «%(label)s» заполнено неверно."),
}


def declared_label(spec: AccountField) -> str:
    """The declared label in the current language (Russian unless English is active)."""
    return spec.label_en if (get_language() or "ru").startswith("en") else spec.label_ru


def _account_apply(account: ProviderAccount, data: AccountInput) -> dict[str, tuple[Any, Any]]:
    """Check and apply a declared-fields shop to `account` (unsaved); return what changed."""
    slug = str(data.get("provider") or account.provider)
    try:
        provider_class = registry.get_provider_class(slug)
    except ProviderConfigError:
        provider_class = None
    if provider_class is None or not provider_class.account_fields:
        raise InputRejected(
            [
                Problem(
                    f"{ACCOUNT_PREFIX}.provider",
                    _("Этот провайдер так не подключается: выберите ЮKassa или укажите Robokassa.")
                    if provider_class is not None
                    else _("Неизвестный провайдер."),
                    "unknown_provider",
                )
            ]
        )
    fields = provider_class.account_fields
    entered = {spec.name: spec for spec in fields if spec.entered and spec.target != "flag"}
    values = {str(k): str(v).strip() for k, v in (data.get("values") or {}).items() if v}
    new_shop = account._state.adding
    switching = new_shop or slug != account.provider
    stored: dict[str, str] = {} if switching else dict(account.provider_secrets or {})
    problems = [
        Problem(f"{ACCOUNT_PREFIX}.values.{name}", _("Такого поля нет."), "unknown_field")
        for name in values
        if name not in entered
    ]
    login = next((spec for spec in fields if spec.target == "login"), None)
    effective = dict(values)
    if login is not None and login.name not in effective and not switching:
        effective[login.name] = account.merchant_login
    codes = base_account_problems(fields, effective, "keys", kept=frozenset(stored))
    problems += [
        Problem(
            f"{ACCOUNT_PREFIX}.values.{name}",
            str(_PROBLEM_TEXT[code]) % {"label": declared_label(entered[name])},
            f"{name}_{code}",
        )
        for name, code in codes.items()
        if name in entered
    ]
    reject_if_any(problems)
    changes: dict[str, tuple[Any, Any]] = {}
    if switching:
        changes["provider"] = (None if new_shop else account.provider, slug)
        account.provider = slug
        account.provider_secrets = {}
        account.invoice_numbers_checked_at = None
        account.invoice_numbers_problem = ""
    if (
        login is not None
        and login.name in values
        and (switching or account.merchant_login != values[login.name])
    ):
        changes[f"{slug}.{login.name}"] = (
            None if switching else account.merchant_login,
            values[login.name],
        )
        account.merchant_login = values[login.name]
        account.invoice_numbers_checked_at = None
    secrets = dict(stored)
    for name, spec in entered.items():
        if spec.secret and name in values and stored.get(name) != values[name]:
            secrets[name] = values[name]
            changes[f"{slug}.{name}"] = (None, None)
    account.provider_secrets = secrets
    for flag in ("test_mode", "fiscalization"):
        if flag in data or switching:
            value = bool(data.get(flag, False))
            if switching or getattr(account, flag) != value:
                changes[f"{slug}.{flag}"] = (None if switching else getattr(account, flag), value)
                setattr(account, flag, value)
    return changes


def _secret_names(changes: dict[str, tuple[Any, Any]]) -> list[str]:
    names = [f"robokassa.{name}" for name in SHOP_SECRETS if f"robokassa.{name}" in changes]
    return names + [key for key, value in changes.items() if value == (None, None)]


@transaction.atomic
def partner_create(
    *,
    actor: str,
    name: str,
    legal_form: str,
    inn: str,
    tax_system: str,
    shop: ShopInput | None = None,
    vat: str = Vat.NONE,
    ogrn: str = "",
    active: bool = True,
    ip_address: str | None = None,
    account_input: AccountInput | None = None,
) -> Partner:
    """Create a partner with its shop: a Robokassa one (`shop`) or one at any provider that
    declares its fields (`account_input`). Raises InputRejected listing every broken rule."""
    values = _partner_values(
        {
            "name": name,
            "legal_form": legal_form,
            "inn": inn,
            "ogrn": ogrn,
            "tax_system": tax_system,
            "vat": vat,
        }
    )
    partner = Partner(**values, active=active)
    account = ProviderAccount(partner=partner, hash_algorithm=HashAlgorithm.MD5, merchant_login="")
    problems = rules.partner_problems(**values)
    shop_changes: dict[str, tuple[Any, Any]] = {}
    try:
        if account_input is not None:
            shop_changes = _account_apply(account, account_input)
        else:
            shop_changes = _shop_apply(account, shop or {})
    except InputRejected as exc:
        problems += exc.problems
    reject_if_any(problems)
    partner.save()
    account.save()
    changes = {key: (None, value) for key, value in values.items()} | {"active": (None, active)}
    audit_record(
        actor=actor,
        action="partner.create",
        obj=partner,
        changes=changes | shop_changes,
        secret_fields=_secret_names(shop_changes),
        ip_address=ip_address,
    )
    return partner


@transaction.atomic
def partner_update(
    *,
    actor: str,
    partner: Partner,
    changes: PartnerChanges,
    shop: ShopInput | None = None,
    ip_address: str | None = None,
    account_input: AccountInput | None = None,
) -> Partner:
    """Change some fields of a partner and its shop (`shop` for Robokassa's fields, which also
    moves the shop back to Robokassa; `account_input` for a provider's declared fields); rules apply to the resulting state, so a new
    legal form is checked together with the INN it will have. Raises InputRejected."""
    current = {field: getattr(partner, field) for field in PARTNER_FIELDS}
    merged = _partner_values({**current, **changes})
    account = ProviderAccount.objects.filter(partner=partner).first() or ProviderAccount(
        partner=partner, merchant_login=""
    )
    problems = rules.partner_problems(
        **{k: v for k, v in merged.items() if k != "active"},
        check_vat_pair=any(merged[f] != current[f] for f in RECEIPT_FIELDS),
    )
    shop_changes: dict[str, tuple[Any, Any]] = {}
    if shop is not None or account_input is not None:
        try:
            if account_input is not None:
                shop_changes = _account_apply(account, account_input)
            else:
                if account.provider != "robokassa" and not account._state.adding:
                    shop_changes["provider"] = (account.provider, "robokassa")
                    account.provider = "robokassa"
                    account.provider_secrets = {}
                    account.invoice_numbers_checked_at = None
                shop_changes |= _shop_apply(account, shop or {})
        except InputRejected as exc:
            problems += exc.problems
    reject_if_any(problems)
    diff = {
        field: (current[field], merged[field])
        for field in PARTNER_FIELDS
        if current[field] != merged[field]
    }
    if diff:
        for field, (_old, new) in diff.items():
            setattr(partner, field, new)
        if any(field in diff for field in RECEIPT_FIELDS):
            partner.tax_notice = ""  # the owner has looked at the tax settings again
        partner.save()
    if shop_changes:
        account.save()
    if shop_changes or any(field in diff for field in RECEIPT_FIELDS):
        # Credentials, algorithm, test flag, fiscalization or the receipt's tax data are signed
        # into every open invoice of this shop: none of them may be handed out any more.
        invoices_retire_open(account_id=account.pk)
    if diff or shop_changes:
        audit_record(
            actor=actor,
            action="partner.update",
            obj=partner,
            changes=diff | shop_changes,
            secret_fields=_secret_names(shop_changes),
            ip_address=ip_address,
        )
    return partner


@transaction.atomic
def partner_delete(*, actor: str, partner: Partner, ip_address: str | None = None) -> None:
    """Delete a partner nobody depends on. Raises DeleteRefused while it has locations, unpaid links
    or any payment history; deactivation (`active=False`) is the way out then."""
    if partner.locations.exists():
        raise DeleteRefused(
            _("У партнёра есть локации: перенесите их или деактивируйте партнёра."),
            "partner_has_locations",
        )
    if partner_has_unpaid_links(partner=partner):
        raise DeleteRefused(
            _("По партнёру есть неоплаченные ссылки: деактивируйте партнёра вместо удаления."),
            "partner_has_unpaid_links",
        )
    label, pk = str(partner), partner.pk
    try:
        with transaction.atomic():
            partner.delete()
    except ProtectedError as exc:
        raise DeleteRefused(
            _("По партнёру есть сделки или платежи: деактивируйте его вместо удаления."),
            "partner_has_history",
        ) from exc
    audit_record(
        actor=actor,
        action="partner.delete",
        changes={"name": (label, None), "id": (str(pk), None)},
        ip_address=ip_address,
    )
