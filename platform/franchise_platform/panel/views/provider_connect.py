"""The partner page's provider pieces that any provider may declare (network/provider_connect.py):
«Подключить через OAuth» (start, the platform host's callback, the finish in the panel) and the
shop check by the provider's API. Parsing and messages only; the work is in the service."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from billing_providers import registry
from franchise_platform.network import provider_connect
from franchise_platform.network.models import Partner, ProviderAccount
from franchise_platform.network.provider_connect import ConnectRefused
from franchise_platform.payments.invoicing import invoices_retire_open
from franchise_platform.scoping import confine

from ..access import actor, panel_view


def partner_provider_context(partner: Partner) -> dict[str, Any]:
    """What the partner page's include (panel/partners/_provider_connect.html) shows: a connect
    button per provider that connects by OAuth, and whether the shop is checked by API."""
    account = ProviderAccount.objects.filter(partner=partner).first()
    current = account.provider if account is not None else ""
    secrets = account.provider_secrets if account is not None else None
    return {
        "oauth": [
            {
                "slug": slug,
                "label": label,
                "current": slug == current,
                "connected": slug == current and isinstance(secrets, dict) and bool(secrets),
            }
            for slug, label in provider_connect.oauth_providers()
        ],
        "checks_by_api": current in registry.PROVIDERS
        and registry.get_provider_class(current).checks_shop_by_api,
    }


def checks_shop_by_api(partner: Partner) -> bool:
    account = ProviderAccount.objects.filter(partner=partner).first()
    return (
        account is not None
        and account.provider in registry.PROVIDERS
        and registry.get_provider_class(account.provider).checks_shop_by_api
    )


def _partner(request: HttpRequest, partner_id: str) -> Partner:
    partner = Partner.objects.get(pk=partner_id)
    if not confine(Partner.objects.filter(pk=partner.pk), user=request.user).exists():
        raise Partner.DoesNotExist
    return partner


@require_POST
@panel_view(edit=True)
def provider_connect_start(request: HttpRequest, partner_id: str, provider: str) -> HttpResponse:
    partner = _partner(request, partner_id)
    try:
        url = provider_connect.oauth_connect_url(
            network=request.tenant,  # type: ignore[attr-defined]
            partner=partner,
            provider=provider,
            user_uid=str(request.user.uid),  # type: ignore[union-attr]
            session=request.session,
        )
    except ConnectRefused as exc:
        messages.error(request, exc.detail)
        return redirect("panel:partner_detail", partner_id=partner.pk)
    # A refresh, not a redirect: the consent page is on the provider's host, which the panel's
    # form-action policy does not list (and need not: nothing is posted there).
    return render(
        request,
        "pay/continue.html",
        {"url": url, "heading": _("Переходим в кабинет провайдера")},
    )


@never_cache
@require_GET
def provider_oauth_callback(request: HttpRequest, provider: str) -> HttpResponse:
    """The platform host's callback (the OAuth app's registered Callback URL): the browser goes
    on to the network's panel, where the person who started the connect finishes it."""
    query = {key: request.GET.get(key, "") for key in ("code", "state", "error")}
    try:
        return redirect(provider_connect.oauth_callback_next(provider=provider, query=query))
    except ConnectRefused as exc:
        return render(
            request,
            "pay/provider_connect_refused.html",
            {"message": exc.detail},
            status=400,
        )


@never_cache
@require_GET
@panel_view(edit=True)
def provider_connect_finish(request: HttpRequest, partner_id: str) -> HttpResponse:
    partner = _partner(request, partner_id)
    query = {key: request.GET.get(key, "") for key in ("code", "state", "error")}
    try:
        with transaction.atomic():
            connected = provider_connect.oauth_finish(
                network=request.tenant,  # type: ignore[attr-defined]
                partner=partner,
                user_uid=str(request.user.uid),  # type: ignore[union-attr]
                actor=actor(request)["actor"],
                session=request.session,
                query=query,
                ip_address=actor(request)["ip_address"],
            )
            # Another shop or token: nothing signed with the old one may be handed out.
            account = ProviderAccount.objects.get(partner=partner)
            invoices_retire_open(account_id=account.pk)
    except ConnectRefused as exc:
        connection.set_tenant(request.tenant)  # type: ignore[attr-defined]
        messages.error(request, exc.detail)
        return redirect("panel:partner_detail", partner_id=partner.pk)
    connection.set_tenant(request.tenant)  # type: ignore[attr-defined]
    kind = _("тестовый") if connected.shop.test else _("боевой")
    if connected.notifications_problem:
        messages.warning(
            request,
            _(
                "Магазин %(shop)s (%(kind)s) подключён, но уведомления о платежах не "
                "зарегистрированы. Нажмите «Подключить» ещё раз."
            )
            % {"shop": connected.shop.shop_id, "kind": kind},
        )
    else:
        messages.success(
            request,
            _(
                "Магазин %(shop)s (%(kind)s) подключён. Уведомления о платежах и возвратах "
                "приходят на платформу: %(events)s."
            )
            % {"shop": connected.shop.shop_id, "kind": kind, "events": ", ".join(connected.events)},
        )
    return redirect("panel:partner_detail", partner_id=partner.pk)


def provider_shop_check(request: HttpRequest, partner: Partner) -> HttpResponse:
    """The shop check for a provider that answers it by API (called by the partner page's
    «Проверить магазин»): the result is shown as a message and kept on the partner."""
    try:
        found = provider_connect.shop_check(partner=partner)
    except ConnectRefused as exc:
        messages.error(request, exc.detail)
        return redirect("panel:partner_detail", partner_id=partner.pk)
    partner.refresh_from_db(fields=["shop_check_error"])
    facts = {
        "shop": found.shop_id,
        "kind": _("тестовый") if found.test else _("боевой"),
        "receipts": _("провайдер отправляет чеки")
        if found.fiscalization
        else _("чеки провайдер не отправляет"),
        "methods": ", ".join(found.payment_methods) or "—",
    }
    if partner.shop_check_error:
        messages.warning(
            request,
            _("Магазин %(shop)s отвечает, но есть расхождения: %(problems)s.")
            % {"shop": found.shop_id, "problems": partner.shop_check_error},
        )
    else:
        messages.success(
            request,
            _("Магазин %(shop)s подключён: %(kind)s, %(receipts)s; способы оплаты: %(methods)s.")
            % facts,
        )
    return redirect("panel:partner_detail", partner_id=partner.pk)
