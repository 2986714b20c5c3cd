"""Partners and their shops at a payment provider: create, change, delete.

A shop's settings are the ones its provider declares (billing_providers.base.AccountField): the
services check them against the declaration, store each where it says (the login, the flags, a
column of its own, or sealed with the shop's other declared secrets) and audit them under
``<provider>.<field>``, secrets only as changed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypedDict

from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from billing_providers import registry
from billing_providers.base import AccountField, BillingProvider
from billing_providers.base import account_problems as base_account_problems
from franchise_platform.payments.invoicing import invoices_retire_open
from franchise_platform.payments.selectors import partner_has_unpaid_links
from franchise_platform.security.audit import audit_record

from .. import rules
from ..errors import DeleteRefused, InputRejected, Problem, reject_if_any
from ..models import Partner, ProviderAccount, Vat
from .declarations import declared_label, declared_text, declaring_class

PARTNER_FIELDS = ("name", "legal_form", "inn", "ogrn", "tax_system", "vat", "active")
# Partner fields signed into an invoice's receipt: a change makes its open invoices stale.
RECEIPT_FIELDS = ("tax_system", "vat")
# The core's own setting of a shop, in every provider's block beside its declared fields.
NUMBERING = "invoice_number_start"

# A provider's block (the API's ``robokassa`` object, the panel's form): its declared fields by
# name, plus the core's ``invoice_number_start``. An absent or empty secret keeps the stored one.
ShopInput = dict[str, Any]


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


class AccountInput(TypedDict, total=False):
    """A shop at any provider that declares its account fields (billing_providers.base
    .AccountField): ``values`` holds the login, choice and secret fields by their declared
    names; an absent or empty secret keeps the stored one (unless the provider changes)."""

    provider: str
    values: dict[str, str]
    test_mode: bool
    fiscalization: bool


ACCOUNT_PREFIX = "provider_account"
_PROBLEM_TEXT = {
    "required": _lazy("Заполните поле «%(label)s»."),
    "too_long": _lazy("Поле «%(label)s» слишком длинное."),
    "bad_format": _lazy("Поле «%(label)s» заполнено неверно."),
    "requires": _lazy("Для «%(label)s» заполните: %(needed)s."),
}


def _problem(
    spec: AccountField, fields: tuple[AccountField, ...], code: str, field: str, value: str
) -> Problem:
    declared = spec.message(code)
    if declared is not None:
        return Problem(field, declared_text(declared), declared.code)
    if code == "bad_choice":
        allowed = ", ".join(choice for choice, _label in spec.choices)
        return Problem(
            field,
            _("Недопустимое значение «%(v)s»; допустимы: %(a)s.") % {"v": value, "a": allowed},
            "invalid_choice",
        )
    labels = {other.name: declared_label(other) for other in fields}
    needed = ", ".join(f"«{labels.get(name, name)}»" for name in spec.requires)
    text = str(_PROBLEM_TEXT[code]) % {"label": declared_label(spec), "needed": needed}
    return Problem(field, text, f"{spec.name}_{code}")


def _provider_declaring(slug: str, field: str) -> type[BillingProvider]:
    provider_class = declaring_class(slug)
    if provider_class is None:
        known = slug in registry.PROVIDERS
        raise InputRejected(
            [
                Problem(
                    field,
                    _("Этот провайдер нельзя выбрать для магазина партнёра.")
                    if known
                    else _("Неизвестный провайдер."),
                    "unknown_provider",
                )
            ]
        )
    return provider_class


def _account_apply(
    account: ProviderAccount,
    *,
    slug: str,
    values: dict[str, Any],
    flags: dict[str, bool],
    prefix: str,
    flag_prefix: str,
    numbering: int | None = None,
    with_numbering: bool = False,
) -> tuple[dict[str, tuple[Any, Any]], list[str]]:
    """Check the shop's resulting state against ``slug``'s declaration and apply it to
    ``account`` (unsaved). Returns the audit changes and which of them are secrets. Problems
    are reported under ``prefix`` + field (``flag_prefix`` for flags). Raises InputRejected."""
    fields = _provider_declaring(slug, f"{ACCOUNT_PREFIX}.provider").account_fields
    entered = {spec.name: spec for spec in fields if spec.entered and spec.target != "flag"}
    new_shop = account._state.adding
    switching = new_shop or slug != account.provider
    stored: dict[str, str] = {} if switching else dict(account.provider_secrets or {})
    given: dict[str, str] = {}
    problems: list[Problem] = []
    for name, raw in values.items():
        if raw is None or raw == "":
            continue
        spec = entered.get(name)
        if spec is None:
            problems.append(Problem(f"{prefix}{name}", _("Такого поля нет."), "unknown_field"))
            continue
        text = str(raw).strip() if spec.strip else str(raw)
        if text.strip():
            given[name] = text

    def kept_secret(spec: AccountField) -> bool:
        return bool(getattr(account, spec.column) if spec.column else stored.get(spec.name))

    effective = dict(given)
    for spec in entered.values():
        if spec.name in effective:
            continue
        if spec.target == "login" and not switching:
            effective[spec.name] = account.merchant_login
        elif spec.target == "choice":
            current = getattr(account, spec.column) if spec.column else stored.get(spec.name)
            effective[spec.name] = str(current or spec.default) if not switching else spec.default
    flag_values: dict[str, bool] = {}
    for spec in fields:
        if spec.target == "flag":
            column = spec.column or spec.name
            default = False if switching else bool(getattr(account, column))
            flag_values[spec.name] = bool(flags.get(spec.name, default))
    kept = frozenset(name for name, spec in entered.items() if spec.secret and kept_secret(spec))
    codes = base_account_problems(fields, effective, "keys", kept=kept, flags=flag_values)
    by_name = {spec.name: spec for spec in fields}
    for name, code in codes.items():
        where = f"{flag_prefix if by_name[name].target == 'flag' else prefix}{name}"
        problems.append(_problem(by_name[name], fields, code, where, effective.get(name, "")))
    if with_numbering:
        number = account.invoice_number_start if numbering is None else numbering
        problem = rules.invoice_number_start_problem(number)
        if problem is not None:
            problems.append(replace(problem, field=f"{prefix}{NUMBERING}"))
    reject_if_any(problems)

    changes: dict[str, tuple[Any, Any]] = {}
    secret_keys: list[str] = []
    if switching:
        changes["provider"] = (None if new_shop else account.provider, slug)
        account.provider = slug
        account.invoice_numbers_checked_at = None
        account.invoice_numbers_problem = ""
    secrets = dict(stored)

    def record(spec_name: str, old: Any, new: Any) -> None:
        changes[f"{slug}.{spec_name}"] = (None if switching else old, new)

    for spec in fields:
        if spec.target == "login":
            new_login = effective.get(spec.name, "")
            if switching or account.merchant_login != new_login:
                record(spec.name, account.merchant_login, new_login)
                account.merchant_login = new_login
                account.invoice_numbers_checked_at = None
                account.invoice_numbers_problem = ""
        elif spec.target == "flag":
            column = spec.column or spec.name
            if switching or getattr(account, column) != flag_values[spec.name]:
                record(spec.name, getattr(account, column), flag_values[spec.name])
                setattr(account, column, flag_values[spec.name])
        elif spec.target == "choice" and spec.name in effective:
            value = effective[spec.name]
            old = getattr(account, spec.column) if spec.column else stored.get(spec.name)
            if switching or old != value:
                record(spec.name, old, value)
                if spec.column:
                    setattr(account, spec.column, value)
                else:
                    secrets[spec.name] = value
        elif spec.secret and spec.name in given:
            value = given[spec.name]
            # Compared only to avoid a needless "changed" line; values never leave this function.
            current = getattr(account, spec.column) if spec.column else stored.get(spec.name)
            if current != value:
                changes[f"{slug}.{spec.name}"] = (None, None)
                secret_keys.append(f"{slug}.{spec.name}")
                if spec.column:
                    setattr(account, spec.column, value)
                else:
                    secrets[spec.name] = value
    if switching or secrets != stored:
        account.provider_secrets = secrets
    if with_numbering:
        number = account.invoice_number_start if numbering is None else numbering
        if new_shop or account.invoice_number_start != number:
            record(NUMBERING, account.invoice_number_start, number)
            account.invoice_number_start = number
            # Another start: its numbers are checked again before the next invoice.
            account.invoice_numbers_checked_at = None
            account.invoice_numbers_problem = ""
    return changes, secret_keys


def _shop_apply(
    account: ProviderAccount, shop: ShopInput, slug: str
) -> tuple[dict[str, tuple[Any, Any]], list[str]]:
    """A provider's block (``shop``: its declared fields by name and ``invoice_number_start``)."""
    fields = _provider_declaring(slug, f"{ACCOUNT_PREFIX}.provider").account_fields
    flag_names = {spec.name for spec in fields if spec.target == "flag"}
    block = f"{_block(slug)}."
    return _account_apply(
        account,
        slug=slug,
        values={k: v for k, v in shop.items() if k not in flag_names and k != NUMBERING},
        flags={k: bool(v) for k, v in shop.items() if k in flag_names and v is not None},
        prefix=block,
        flag_prefix=block,
        numbering=shop.get(NUMBERING),
        with_numbering=True,
    )


def _block(slug: str) -> str:
    provider_class = declaring_class(slug)
    return (provider_class.account_block if provider_class else "") or slug


def _input_apply(
    account: ProviderAccount, data: AccountInput
) -> tuple[dict[str, tuple[Any, Any]], list[str]]:
    """``provider_account``: any declaring provider's fields (``values``) and flags."""
    return _account_apply(
        account,
        slug=str(data.get("provider") or account.provider),
        values=dict(data.get("values") or {}),
        flags={k: bool(v) for k, v in data.items() if k in ("test_mode", "fiscalization")},
        prefix=f"{ACCOUNT_PREFIX}.values.",
        flag_prefix=f"{ACCOUNT_PREFIX}.",
    )


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
    shop_provider: str = registry.DEFAULT_PROVIDER,
) -> Partner:
    """Create a partner with its shop: a provider's block (`shop`, at `shop_provider`, the
    default provider unless told) or `account_input` (any provider that declares its fields).
    Raises InputRejected listing every broken rule."""
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
    account = ProviderAccount(partner=partner, merchant_login="")
    problems = rules.partner_problems(**values)
    shop_changes: dict[str, tuple[Any, Any]] = {}
    secret_keys: list[str] = []
    try:
        if account_input is not None:
            shop_changes, secret_keys = _input_apply(account, account_input)
        else:
            shop_changes, secret_keys = _shop_apply(account, shop or {}, shop_provider)
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
        secret_fields=secret_keys,
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
    shop_provider: str = registry.DEFAULT_PROVIDER,
) -> Partner:
    """Change some fields of a partner and its shop (`shop` for a provider's block, which also
    moves the shop to `shop_provider`; `account_input` for a provider's declared fields); rules
    apply to the resulting state, so a new legal form is checked together with the INN it will
    have. Raises InputRejected."""
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
    secret_keys: list[str] = []
    if shop is not None or account_input is not None:
        try:
            if account_input is not None:
                shop_changes, secret_keys = _input_apply(account, account_input)
            else:
                shop_changes, secret_keys = _shop_apply(account, shop or {}, shop_provider)
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
            secret_fields=secret_keys,
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
