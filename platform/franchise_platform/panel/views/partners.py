"""Partners: list, add, edit, (de)activate, delete, the page with the addresses for the provider's
cabinet, and the shop check (a test-mode invoice whose notification proves the shop is wired)."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from billing_providers import registry
from billing_providers.errors import ProviderError
from franchise_platform.network import selectors, services
from franchise_platform.network.errors import DeleteRefused, InputRejected
from franchise_platform.network.forms import PartnerForm, show_problems
from franchise_platform.network.models import LegalForm, Partner
from franchise_platform.network.rules import digits_only
from franchise_platform.network.services import PartnerChanges, declarations
from franchise_platform.network.validators import validate_inn
from franchise_platform.payments.invoicing import shop_check_invoice_issue
from franchise_platform.payments.selectors import shop_check_invoice_open
from franchise_platform.scoping import confine
from tenants.services import network_base_url

from ..access import actor, page, panel_view
from .provider_connect import checks_shop_by_api, partner_provider_context, provider_shop_check


def _with_inn_check(form: PartnerForm) -> PartnerForm:
    """Ask the server about the INN while it is typed (and when the legal form flips), so a typo
    shows before the form is sent. Only the INN and the legal form travel, never the passwords."""
    form.fields["inn"].widget.attrs.update(
        {
            "hx-get": reverse("panel:partner_check_inn"),
            "hx-trigger": "input changed delay:500ms, change from:input[name='legal_form']",
            "hx-include": "[name='legal_form']",
            "hx-target": "#inn-hint",
            "hx-sync": "this:replace",
        }
    )
    return form


@panel_view()
def partner_list(request: HttpRequest) -> HttpResponse:
    return page(request, "panel/partners/list.html", {"partners": selectors.partner_list()})


@panel_view(edit=True)
def partner_create(request: HttpRequest) -> HttpResponse:
    form = _with_inn_check(PartnerForm(request.POST or None))
    if request.method == "POST" and form.is_valid():
        try:
            partner = services.partner_create(
                **actor(request), **form.partner_values(), account_input=form.account_values()
            )
        except InputRejected as exc:
            show_problems(form, exc)
        else:
            messages.success(
                request,
                _("Партнёр «%(name)s» добавлен. Вставьте адреса ниже в настройки магазина.")
                % {"name": partner},
            )
            return redirect("panel:partner_detail", partner_id=partner.pk)
    return page(request, "panel/partners/form.html", {"form": form, "partner": None})


def _partner_visible(request: HttpRequest, partner_id: str) -> Partner:
    """The partner as the person may see it: for a partner user another partner does not exist."""
    partner = selectors.partner_get(partner_id=partner_id)
    if not confine(Partner.objects.filter(pk=partner.pk), user=request.user).exists():
        raise Partner.DoesNotExist
    return partner


@panel_view(scoped=True)
def partner_detail(request: HttpRequest, partner_id: str) -> HttpResponse:
    partner = _partner_visible(request, partner_id)
    context = {
        "partner": partner,
        "shop": getattr(partner, "provider_account", None),
        "cabinet_addresses": _cabinet_addresses(request, partner),
        "shop_settings": _shop_settings(partner),
        "provider_label": registry.provider_label(partner.provider_account.provider)
        if getattr(partner, "provider_account", None)
        else "",
        "locations": selectors.location_list(partner_id=partner.pk),
        "check_invoice": shop_check_invoice_open(partner=partner),
        "provider_panel": partner_provider_context(partner),
    }
    return page(request, "panel/partners/detail.html", context)


def _cabinet_addresses(request: HttpRequest, partner: Partner) -> list[dict[str, str]]:
    """The addresses the shop's provider declares for the owner to paste into its cabinet."""
    account = getattr(partner, "provider_account", None)
    provider_class = declarations.declaring_class(account.provider) if account else None
    if provider_class is None:
        return []
    base = network_base_url(request.tenant)  # type: ignore[attr-defined]
    return [
        {
            "label": declarations.declared_label(address),
            "help": declarations.declared_help(address),
            "method": address.method,
            "url": base + address.path.replace("{partner_id}", str(partner.pk)),
            "id": f"url-{address.name.removesuffix('_url')}",
        }
        for address in provider_class.cabinet_addresses
    ]


def _shop_settings(partner: Partner) -> list[dict[str, Any]]:
    """The shop's declared settings as the partner page lists them: values of the plain ones,
    only whether a secret is stored."""
    account = getattr(partner, "provider_account", None)
    if account is None:
        return []
    sealed = account.provider_secrets if isinstance(account.provider_secrets, dict) else {}
    rows: list[dict[str, Any]] = []
    for spec in declarations.declared_fields(account.provider):
        if not spec.entered:
            continue
        row: dict[str, Any] = {"label": declarations.declared_label(spec), "kind": spec.target}
        if spec.secret:
            row["value"] = bool(
                getattr(account, spec.column) if spec.column else sealed.get(spec.name)
            )
        elif spec.target == "login":
            row["value"] = account.merchant_login
        elif spec.target == "flag":
            row["value"] = bool(getattr(account, spec.column or spec.name))
        else:
            value = getattr(account, spec.column) if spec.column else sealed.get(spec.name, "")
            row["value"] = dict(spec.choices).get(value, value)
        rows.append(row)
    return rows


@require_POST
@panel_view(edit=True, scoped_write=True)
def partner_shop_check(request: HttpRequest, partner_id: str) -> HttpResponse:
    """Issue a test-mode invoice on the partner's shop; its page link then shows on the partner.
    A partner user may check its own shop (a test invoice, no money): the franchisee is the one
    who holds the shop's cabinet and pays the test invoice."""
    partner = _partner_visible(request, partner_id)
    if checks_shop_by_api(partner):  # the provider answers about the shop itself (GET /me…)
        return provider_shop_check(request, partner)
    try:
        # The invoice row is written before the provider is asked: a refusal leaves nothing behind.
        with transaction.atomic():
            shop_check_invoice_issue(partner=partner)
    except ProviderError:
        messages.error(
            request,
            _(
                "Не удалось выставить тестовый счёт: для проверки нужны тестовые пароли #1 и #2 "
                "магазина. Возьмите их в Robokassa («Технические настройки» → «Параметры проведения "
                "тестовых платежей») и сохраните в карточке партнёра."
            ),
        )
    else:
        messages.success(
            request,
            _(
                "Тестовый счёт выставлен. Откройте тестовую оплату и оплатите его: когда Robokassa "
                "пришлёт уведомление, здесь появится «Магазин подключён»."
            ),
        )
    return redirect("panel:partner_detail", partner_id=partner.pk)


@panel_view(edit=True)
def partner_edit(request: HttpRequest, partner_id: str) -> HttpResponse:
    partner = selectors.partner_get(partner_id=partner_id)
    form = _with_inn_check(PartnerForm(request.POST or None, partner=partner))
    if request.method == "POST" and form.is_valid():
        try:
            services.partner_update(
                **actor(request),
                partner=partner,
                changes=cast(PartnerChanges, form.partner_values()),
                account_input=form.account_values(),
            )
        except InputRejected as exc:
            show_problems(form, exc)
        else:
            messages.success(request, _("Изменения сохранены."))
            return redirect("panel:partner_detail", partner_id=partner.pk)
    return page(request, "panel/partners/form.html", {"form": form, "partner": partner})


@require_POST
@panel_view(edit=True)
def partner_toggle(request: HttpRequest, partner_id: str) -> HttpResponse:
    """Deactivation is how a partner leaves: its history stays, no new links are drawn on it."""
    partner = selectors.partner_get(partner_id=partner_id)
    services.partner_update(
        **actor(request), partner=partner, changes={"active": not partner.active}
    )
    if partner.active:
        messages.success(request, _("Партнёр «%(name)s» снова активен.") % {"name": partner})
    else:
        messages.success(
            request,
            _("Партнёр «%(name)s» деактивирован: новые ссылки на него не выставляются.")
            % {"name": partner},
        )
    return redirect("panel:partner_detail", partner_id=partner.pk)


@require_POST
@panel_view(edit=True)
def partner_delete(request: HttpRequest, partner_id: str) -> HttpResponse:
    partner = selectors.partner_get(partner_id=partner_id)
    try:
        services.partner_delete(**actor(request), partner=partner)
    except DeleteRefused as exc:
        messages.error(request, exc.detail)
        return redirect("panel:partner_detail", partner_id=partner.pk)
    messages.success(request, _("Партнёр удалён."))
    return redirect("panel:partner_list")


@require_GET
@panel_view()
def partner_check_inn(request: HttpRequest) -> HttpResponse:
    """htmx: the INN hint under the field, updated as the person types, before anything is sent."""
    inn = digits_only(request.GET.get("inn", ""))
    legal_form = request.GET.get("legal_form", LegalForm.IP)
    error = ""
    if inn:
        try:
            validate_inn(inn, legal_form if legal_form in LegalForm.values else LegalForm.IP)
        except ValidationError as exc:
            error = exc.messages[0]
    return page(request, "panel/partners/_inn_hint.html", {"inn": inn, "error": error})
