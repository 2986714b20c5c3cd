"""Network API: partners, locations, settings and the caller (`/me`). CONTRACT.md, "Network API".

Endpoints parse input, check the caller's role and call services/selectors; nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast
from uuid import UUID

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Status

from billing_providers import registry
from franchise_platform.accounts.api_auth import (
    NetworkTokenAuth,
    require_editor,
    require_not_suspended,
)
from franchise_platform.accounts.models import User
from franchise_platform.api_errors import ApiError
from franchise_platform.flows import locations as location_flows
from franchise_platform.request_context import client_ip
from franchise_platform.scoping import confine
from tenants.services import network_base_url

from . import selectors, services
from .errors import DeleteRefused, InputRejected
from .models import Location, Partner, ProviderAccount
from .schemas import (
    ErrorOut,
    LocationIn,
    LocationOut,
    LocationPatch,
    MeOut,
    PartnerIn,
    PartnerOut,
    PartnerPatch,
    ProviderOut,
    SettingsIn,
    SettingsOut,
)
from .services import declarations

router = Router(auth=NetworkTokenAuth())

READ_ERRORS: dict[int, Any] = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, Any] = {**READ_ERRORS, 403: ErrorOut, 409: ErrorOut}


@contextmanager
def _service_errors() -> Iterator[None]:
    try:
        yield
    except InputRejected as exc:
        raise ApiError(422, exc.detail, exc.code) from exc
    except DeleteRefused as exc:
        raise ApiError(409, exc.detail, exc.code) from exc


def _editor(request: HttpRequest) -> dict[str, Any]:
    """Refuse viewers and suspended networks; return the audit identity of the caller."""
    require_editor(request)
    require_not_suspended(request)
    user: User = request.auth  # type: ignore[attr-defined]
    return {"actor": f"{user.email} (API)", "ip_address": client_ip(request)}


def _partner(request: HttpRequest, partner_id: UUID) -> Partner:
    # Another network's id finds nothing in this schema: the same 404 as an id that never existed;
    # for a partner user, so does another partner's id (franchise_platform/scoping.py).
    try:
        partner = selectors.partner_get(partner_id=partner_id)
    except Partner.DoesNotExist as exc:
        raise ApiError(404, _("Партнёр не найден."), "not_found") from exc
    if not confine(Partner.objects.filter(pk=partner.pk), user=request.auth).exists():  # type: ignore[attr-defined]
        raise ApiError(404, _("Партнёр не найден."), "not_found")
    return partner


def _location(request: HttpRequest, location_id: UUID) -> Location:
    try:
        location = selectors.location_get(location_id=location_id)
    except Location.DoesNotExist as exc:
        raise ApiError(404, _("Локация не найдена."), "not_found") from exc
    if not confine(Location.objects.filter(pk=location.pk), user=request.auth).exists():  # type: ignore[attr-defined]
        raise ApiError(404, _("Локация не найдена."), "not_found")
    return location


def _no_nulls(changes: dict[str, Any], *, nullable: tuple[str, ...] = ()) -> dict[str, Any]:
    """In a PATCH an absent field keeps its value; an explicit null is a mistake, not a reset."""
    for name, value in changes.items():
        if value is None and name not in nullable:
            raise ApiError(422, f"{name}: may not be null.", "validation_error")
    return changes


def _secrets_plain(shop: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v.get_secret_value() if hasattr(v, "get_secret_value") else v
        for k, v in shop.items()
        if v is not None
    }


def _addresses(request: HttpRequest, partner: Partner, slug: str) -> list[dict[str, str]]:
    provider_class = declarations.declaring_class(slug)
    base = network_base_url(request.tenant)  # type: ignore[attr-defined]
    return [
        {
            "name": address.name,
            "label": declarations.declared_label(address),
            "url": base + address.path.replace("{partner_id}", str(partner.pk)),
            "help": declarations.declared_help(address),
        }
        for address in (provider_class.cabinet_addresses if provider_class else ())
    ]


def _secrets_set(account: ProviderAccount) -> list[str]:
    """The names of the declared secrets sealed with the shop's provider secrets (never their
    values). A secret in a column of its own (Robokassa's passwords) is told by its block
    (``refunds_enabled``), as the contract always has."""
    stored = account.provider_secrets if isinstance(account.provider_secrets, dict) else {}
    return sorted(name for name, value in stored.items() if value)


def _account_out(
    request: HttpRequest, partner: Partner, account: ProviderAccount
) -> dict[str, Any]:
    return {
        "provider": account.provider,
        "login": account.merchant_login,
        "test_mode": account.test_mode,
        "fiscalization": account.fiscalization,
        "secrets_set": _secrets_set(account),
        "addresses": _addresses(request, partner, account.provider),
    }


def _block_out(request: HttpRequest, partner: Partner, account: ProviderAccount) -> dict[str, Any]:
    """The provider's own block: its declared settings that are not secret, the core's numbering,
    whether refunds can go through the platform, and the addresses for its cabinet by name."""
    provider_class = declarations.declaring_class(account.provider)
    assert provider_class is not None
    out: dict[str, Any] = {}
    for spec in provider_class.account_fields:
        if spec.secret or not spec.entered:
            continue
        if spec.target == "login":
            out[spec.name] = account.merchant_login
        elif spec.column or spec.target == "flag":
            out[spec.name] = getattr(account, spec.column or spec.name)
        else:
            stored = account.provider_secrets if isinstance(account.provider_secrets, dict) else {}
            out[spec.name] = stored.get(spec.name, spec.default)
    out["invoice_number_start"] = account.invoice_number_start
    if provider_class.refund_secret:
        out["refunds_enabled"] = _secret_stored(account, provider_class.refund_secret)
    for address in _addresses(request, partner, account.provider):
        out[address["name"]] = address["url"]
    return out


def _secret_stored(account: ProviderAccount, name: str) -> bool:
    spec = declarations.field_spec(account.provider, name)
    if spec is not None and spec.column:
        return bool(getattr(account, spec.column, None))
    return name in _secrets_set(account)


def _partner_out(request: HttpRequest, partner: Partner) -> dict[str, Any]:
    try:
        account: ProviderAccount | None = partner.provider_account
    except ProviderAccount.DoesNotExist:
        account = None
    fields = ("id", "name", "legal_form", "inn", "ogrn", "tax_system", "vat", "active")
    out: dict[str, Any] = {f: getattr(partner, f) for f in fields}
    out["provider"] = account.provider if account is not None else None
    for provider_class in declarations.block_providers():
        at_it = account is not None and account.provider == provider_class.slug
        out[provider_class.account_block] = (
            _block_out(request, partner, account) if at_it and account is not None else None
        )
    out["provider_account"] = _account_out(request, partner, account) if account else None
    return out


def _account_input(payload: Any) -> services.AccountInput:
    data: dict[str, Any] = {
        "provider": payload.provider,
        "values": {k: v.get_secret_value() for k, v in payload.values.items()},
    }
    for flag in ("test_mode", "fiscalization"):
        if getattr(payload, flag) is not None:
            data[flag] = getattr(payload, flag)
    return cast(services.AccountInput, data)


def _blocks_given(payload: Any) -> list[tuple[str, dict[str, Any]]]:
    """(provider slug, its block's values) for each provider block present in the payload."""
    given = []
    for provider_class in declarations.block_providers():
        block = getattr(payload, provider_class.account_block, None)
        if block is not None:
            given.append((provider_class.slug, _secrets_plain(dict(block))))
    return given


@router.get("/providers", response={200: list[ProviderOut], 401: ErrorOut}, tags=["partners"])
def providers_list(request: HttpRequest) -> list[dict[str, Any]]:
    """The payment providers a partner's shop can be at, with the fields each one declares."""
    out = []
    for slug, label in registry.provider_choices():
        provider_class = registry.get_provider_class(slug)
        out.append(
            {
                "slug": slug,
                "label": label,
                "connects_by_oauth": provider_class.connects_by_oauth,
                "fields": [
                    {
                        "name": spec.name,
                        "target": spec.target,
                        "label": declarations.declared_label(spec),
                        "help": declarations.declared_help(spec),
                        "required": spec.required,
                        "secret": spec.secret,
                        "modes": list(spec.modes),
                        "pattern": spec.pattern,
                        "max_length": spec.max_length,
                        "choices": [value for value, _label in spec.choices],
                        "default": spec.default,
                    }
                    for spec in provider_class.account_fields
                ],
            }
        )
    return out


def _location_out(location: Location) -> dict[str, Any]:
    fields = ("id", "name", "address", "partner_id", "active")
    return {f: getattr(location, f) for f in fields}


@router.get("/me", response={200: MeOut, 401: ErrorOut}, tags=["me"])
def me(request: HttpRequest) -> dict[str, Any]:
    user: User = request.auth  # type: ignore[attr-defined]
    network = request.tenant  # type: ignore[attr-defined]
    return {
        "email": user.email,
        "role": user.role,
        "partner_id": str(user.partner_id) if user.partner_id else None,
        "network": {"slug": network.slug, "name": network.name},
    }


@router.get("/partners", response={200: list[PartnerOut], 401: ErrorOut}, tags=["partners"])
def partners_list(request: HttpRequest) -> list[dict[str, Any]]:
    partners = confine(selectors.partner_list(), user=request.auth)  # type: ignore[attr-defined]
    return [_partner_out(request, p) for p in partners]


@router.post("/partners", response={201: PartnerOut, **WRITE_ERRORS}, tags=["partners"])
def partner_create(request: HttpRequest, payload: PartnerIn) -> Status[dict[str, Any]]:
    who = _editor(request)
    blocks = _blocks_given(payload)
    data = payload.model_dump(exclude={*_block_names(), "provider_account", "provider"})
    if len(blocks) + (payload.provider_account is not None) != 1:
        raise ApiError(
            422,
            _("Укажите магазин партнёра ровно одним блоком: %(blocks)s или provider_account.")
            % {"blocks": ", ".join(_block_names())},
            "shop_required",
        )
    _provider_matches(payload, blocks)
    with _service_errors():
        if payload.provider_account is not None:
            partner = services.partner_create(
                **who, **data, account_input=_account_input(payload.provider_account)
            )
        else:
            ((slug, shop),) = blocks
            partner = services.partner_create(**who, **data, shop=shop, shop_provider=slug)
    return Status(201, _partner_out(request, partner))


def _provider_matches(
    payload: Any, blocks: list[tuple[str, dict[str, Any]]], *, current: str | None = None
) -> None:
    """`provider`, when given, must name the provider of the shop block given with it (on a
    PATCH without a block: the shop's current provider, as a GET answered it)."""
    named = getattr(payload, "provider", None)
    if named is None:
        return
    if not blocks and payload.provider_account is None and named == current:
        return
    given = [slug for slug, _values in blocks]
    if payload.provider_account is not None:
        given.append(payload.provider_account.provider)
    if given and named not in given:
        raise ApiError(
            422,
            _("provider: не совпадает с провайдером переданного магазина (%(given)s).")
            % {"given": ", ".join(given)},
            "shop_conflict",
        )
    if not given:
        raise ApiError(
            422,
            _("provider: передайте вместе с ним блок магазина этого провайдера."),
            "shop_required",
        )


def _block_names() -> list[str]:
    return [provider_class.account_block for provider_class in declarations.block_providers()]


@router.get("/partners/{partner_id}", response={200: PartnerOut, **READ_ERRORS}, tags=["partners"])
def partner_get(request: HttpRequest, partner_id: UUID) -> dict[str, Any]:
    return _partner_out(request, _partner(request, partner_id))


@router.patch(
    "/partners/{partner_id}", response={200: PartnerOut, **WRITE_ERRORS}, tags=["partners"]
)
def partner_update(request: HttpRequest, partner_id: UUID, payload: PartnerPatch) -> dict[str, Any]:
    who = _editor(request)
    partner = _partner(request, partner_id)
    changes = _no_nulls(
        payload.model_dump(
            exclude_unset=True, exclude={*_block_names(), "provider_account", "provider"}
        ),
        nullable=("ogrn",),
    )
    blocks = _blocks_given(payload)
    if len(blocks) + (payload.provider_account is not None) > 1:
        raise ApiError(
            422,
            _("Укажите магазин одним блоком: %(blocks)s, не несколькими.")
            % {"blocks": " или ".join([*_block_names(), "provider_account"])},
            "shop_conflict",
        )
    try:
        current: str | None = partner.provider_account.provider
    except ProviderAccount.DoesNotExist:
        current = None
    _provider_matches(payload, blocks, current=current)
    if changes.get("ogrn", "") is None:
        changes["ogrn"] = ""
    account_input = (
        _account_input(payload.provider_account) if payload.provider_account is not None else None
    )
    shop: dict[str, Any] | None = None
    shop_provider = registry.DEFAULT_PROVIDER
    if blocks:
        ((shop_provider, shop),) = blocks
    with _service_errors():
        services.partner_update(
            **who,
            partner=partner,
            changes=changes,  # type: ignore[arg-type]
            shop=shop,
            account_input=account_input,
            shop_provider=shop_provider,
        )
    return _partner_out(request, selectors.partner_get(partner_id=partner_id))


@router.delete("/partners/{partner_id}", response={204: None, **WRITE_ERRORS}, tags=["partners"])
def partner_delete(request: HttpRequest, partner_id: UUID) -> Status[None]:
    who = _editor(request)
    partner = _partner(request, partner_id)
    with _service_errors():
        services.partner_delete(**who, partner=partner)
    return Status(204, None)


def _partner_for_location(partner_id: UUID) -> Partner:
    try:
        return selectors.partner_get(partner_id=partner_id)
    except Partner.DoesNotExist as exc:
        raise ApiError(
            422, _("partner_id: такого партнёра в сети нет."), "partner_not_found"
        ) from exc


@router.get("/locations", response={200: list[LocationOut], 401: ErrorOut}, tags=["locations"])
def locations_list(request: HttpRequest, partner_id: UUID | None = None) -> list[dict[str, Any]]:
    locations = confine(selectors.location_list(partner_id=partner_id), user=request.auth)  # type: ignore[attr-defined]
    return [_location_out(loc) for loc in locations]


@router.post("/locations", response={201: LocationOut, **WRITE_ERRORS}, tags=["locations"])
def location_create(request: HttpRequest, payload: LocationIn) -> Status[dict[str, Any]]:
    who = _editor(request)
    partner = _partner_for_location(payload.partner_id)
    with _service_errors():
        location = location_flows.location_create(
            **who,
            name=payload.name,
            address=payload.address,
            partner=partner,
            active=payload.active,
        )
    return Status(201, _location_out(location))


@router.get(
    "/locations/{location_id}", response={200: LocationOut, **READ_ERRORS}, tags=["locations"]
)
def location_get(request: HttpRequest, location_id: UUID) -> dict[str, Any]:
    return _location_out(_location(request, location_id))


@router.patch(
    "/locations/{location_id}", response={200: LocationOut, **WRITE_ERRORS}, tags=["locations"]
)
def location_update(
    request: HttpRequest, location_id: UUID, payload: LocationPatch
) -> dict[str, Any]:
    who = _editor(request)
    location = _location(request, location_id)
    changes = _no_nulls(payload.model_dump(exclude_unset=True))
    if "partner_id" in changes:
        changes["partner"] = _partner_for_location(changes.pop("partner_id"))
    with _service_errors():
        location_flows.location_update(**who, location=location, changes=changes)  # type: ignore[arg-type]
    return _location_out(location)


@router.delete("/locations/{location_id}", response={204: None, **WRITE_ERRORS}, tags=["locations"])
def location_delete(request: HttpRequest, location_id: UUID) -> Status[None]:
    who = _editor(request)
    location = _location(request, location_id)
    with _service_errors():
        location_flows.location_delete(**who, location=location)
    return Status(204, None)


def _settings_out() -> dict[str, Any]:
    obj = selectors.network_settings_get()
    return {
        "prepayment": {"mode": obj.prepayment_mode, "value": f"{obj.prepayment_value:.2f}"},
        "invoice_ttl_hours": obj.invoice_ttl_hours,
        "item_name": obj.item_name,
        "delivered_status_ids": list(obj.delivered_status_ids or []),
    }


@router.get("/settings", response={200: SettingsOut, 401: ErrorOut}, tags=["settings"])
def settings_get(request: HttpRequest) -> dict[str, Any]:
    return _settings_out()


@router.put("/settings", response={200: SettingsOut, **WRITE_ERRORS}, tags=["settings"])
def settings_put(request: HttpRequest, payload: SettingsIn) -> dict[str, Any]:
    who = _editor(request)
    with _service_errors():
        services.network_settings_update(
            **who,
            prepayment_mode=payload.prepayment.mode,
            prepayment_value=payload.prepayment.value,
            invoice_ttl_hours=payload.invoice_ttl_hours,
            item_name=payload.item_name,
            delivered_status_ids=payload.delivered_status_ids,
        )
    return _settings_out()
