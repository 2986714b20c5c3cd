"""Deals and their two payment links (prepayment and full), kept consistent with what is paid.

A link is stable (/pay/<token>); only its amount and status change. There is at most one active
link per kind per deal (a partial unique index), so pressing the button twice, even at the same
moment, gives the same two links.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from franchise_platform.network.models import Location
from franchise_platform.network.selectors import network_settings_get
from franchise_platform.observability.metrics import metric_links_issued

from .amounts import ZERO, amounts_due, money, prepayment_by_rule
from .errors import LinkRefused
from .models import Deal, DealStatus, Invoice, InvoiceStatus, LinkKind, LinkStatus, PaymentLink


@dataclass(frozen=True)
class LeadFacts:
    """What the CRM says about a lead, already mapped to our locations."""

    crm: str
    crm_deal_id: int
    title: str
    total: Decimal
    location_id: str | None
    # The service's start from the lead's date field; None when unmapped or empty.
    service_date: datetime | None = None
    # The lead stands in a stage the owner counts as "service delivered".
    delivered: bool = False


def deal_status_for(*, total: Decimal, paid: Decimal, refunded: Decimal = ZERO) -> str:
    """`paid` is what the deal keeps (received minus returned); `refunded` what went back."""
    if refunded > ZERO and paid <= ZERO:
        return DealStatus.REFUNDED
    if refunded > ZERO and paid < total:
        return DealStatus.PARTIALLY_REFUNDED
    if paid <= ZERO:
        return DealStatus.OPEN
    if paid < total:
        return DealStatus.PARTIALLY_PAID
    if paid == total:
        return DealStatus.PAID
    return DealStatus.OVERPAID


def _resolve_location(location_id: str | None) -> Location:
    if not location_id:
        raise LinkRefused(
            _("В сделке не выбрана локация. Выберите её в поле «Локация» и нажмите ещё раз."),
            "lead_without_location",
        )
    location = (
        Location.objects.select_related("partner__provider_account").filter(pk=location_id).first()
    )
    if location is None or not location.active:
        raise LinkRefused(
            _("Локация из сделки не найдена или отключена. Обновите поле «Локация»."),
            "unknown_location",
        )
    partner = location.partner
    if not partner.active:
        raise LinkRefused(
            _("У локации «%(name)s» нет активного партнёра. Обратитесь к владельцу сети.")
            % {"name": location.name},
            "location_without_partner",
        )
    account = getattr(partner, "provider_account", None)
    if account is None or not account.merchant_login:
        raise LinkRefused(
            _("У партнёра «%(name)s» не настроен магазин Robokassa.") % {"name": partner.name},
            "shop_not_configured",
        )
    return location


def _prepayment(deal: Deal) -> Decimal | None:
    if deal.prepayment_amount is not None and ZERO < deal.prepayment_amount < deal.total:
        return money(deal.prepayment_amount)
    rules = network_settings_get()
    return prepayment_by_rule(
        total=deal.total, mode=rules.prepayment_mode, value=rules.prepayment_value
    )


def links_sync(deal: Deal) -> bool:
    """Bring the deal's links in line with its total and what is paid. Returns True when any
    link was created or changed amount or status. The caller holds the deal's row lock."""
    # A deal refunded in full is over: nothing of it is payable any more.
    refunded_whole = deal.status == DealStatus.REFUNDED
    nothing_paid = deal.paid <= ZERO and not refunded_whole
    # The prepayment rule matters only while nothing is paid (afterwards the prepayment link is
    # closed), so the settings are not read for a deal that already has money on it.
    due = amounts_due(
        total=deal.total, paid=deal.paid, prepayment=_prepayment(deal) if nothing_paid else None
    )
    active = {link.kind: link for link in deal.links.filter(status=LinkStatus.ACTIVE)}
    paid_through: set[str] | None = None
    created: list[str] = []
    changed = False

    def close(link: PaymentLink) -> None:
        nonlocal changed, paid_through
        if paid_through is None:
            paid_through = set(deal.payments.values_list("invoice__link__kind", flat=True))
        link.status = LinkStatus.PAID if link.kind in paid_through else LinkStatus.CLOSED
        link.save(update_fields=["status", "updated_at"])
        changed = True

    def ensure(kind: str, amount: Decimal) -> None:
        nonlocal changed
        link = active.get(kind)
        if link is None:
            PaymentLink.objects.create(deal=deal, kind=kind, amount=amount)
            created.append(kind)
            changed = True
        elif link.amount != amount:
            link.amount = amount
            link.save(update_fields=["amount", "updated_at"])
            changed = True

    if nothing_paid and due.full > ZERO:
        ensure(LinkKind.PREPAYMENT, due.prepayment)
    elif LinkKind.PREPAYMENT in active:
        close(active[LinkKind.PREPAYMENT])
    if due.full > ZERO and not refunded_whole:
        ensure(LinkKind.FULL, due.full)
    elif LinkKind.FULL in active:
        close(active[LinkKind.FULL])
    metric_links_issued(created)
    return changed


def invoices_retire_for_other_shops(deal: Deal, account_id: uuid.UUID) -> int:
    """Unpaid invoices drawn on another shop than the deal's current one are withdrawn; a late
    payment on one is still recorded (money is never refused), the deal then shows it."""
    return (
        Invoice.objects.filter(deal=deal, status=InvoiceStatus.ISSUED)
        .exclude(provider_account_id=account_id)
        .update(status=InvoiceStatus.RETIRED)
    )


@dataclass(frozen=True)
class LinksRequest:
    """A checked button press: the deal's total, its location, the prepayment asked for."""

    facts: LeadFacts
    total: Decimal
    location: Location
    prepayment_amount: Decimal | None


@dataclass(frozen=True)
class LinksEnsured:
    """What ``deal_links_upsert`` changed: the caller queues the CRM write from it."""

    deal: Deal
    # The deal or its links changed (or the deal is new): the lead's fields need writing.
    changed: bool
    # The note «Ссылки на оплату сформированы», when the links are new or moved to another shop.
    note: str | None


def links_request_check(
    *, facts: LeadFacts, prepayment_amount: Decimal | None = None
) -> LinksRequest:
    """Raises LinkRefused (422) for a lead without location, a location without an active
    partner, a partner without a shop, a zero price, or a prepayment outside 0 < amount < total."""
    total = money(facts.total)
    if total <= ZERO:
        raise LinkRefused(
            _("У сделки не указан бюджет. Укажите сумму сделки и нажмите ещё раз."), "zero_price"
        )
    location = _resolve_location(facts.location_id)
    if prepayment_amount is not None:
        prepayment_amount = money(prepayment_amount)
        if not ZERO < prepayment_amount < total:
            raise LinkRefused(
                _("Предоплата должна быть больше нуля и меньше суммы сделки (%(total)s ₽).")
                % {"total": total},
                "invalid_prepayment",
            )
    return LinksRequest(facts, total, location, prepayment_amount)


def deal_links_upsert(*, request: LinksRequest) -> LinksEnsured:
    """Upsert the deal from the lead and keep exactly one active link per kind. Runs in the
    caller's transaction (the flow's); IntegrityError when two presses raced on one lead (the
    caller retries once: the second pass finds the winner's rows)."""
    facts, total, location = request.facts, request.total, request.location
    prepayment_amount = request.prepayment_amount
    # No savepoint: the flow's transaction holds this and its CRM write together.
    with transaction.atomic(savepoint=False):
        # Locked as it is read; a new deal is locked by its insert. Two first presses racing on
        # one lead: the loser's insert hits the unique (crm, crm_deal_id) and the flow retries.
        found = (
            Deal.objects.select_for_update()
            .filter(crm=facts.crm, crm_deal_id=facts.crm_deal_id)
            .first()
        )
        created = found is None
        deal = found or Deal.objects.create(
            crm=facts.crm, crm_deal_id=facts.crm_deal_id, total=total, title=facts.title[:300]
        )
        partner_changed = deal.partner_id != location.partner_id
        if partner_changed and deal.partner_id is not None:
            invoices_retire_for_other_shops(deal, location.partner.provider_account.pk)
        before = (deal.total, deal.location_id, deal.partner_id, deal.prepayment_amount, deal.title)
        deal.total = total
        deal.title = facts.title[:300]
        deal.service_date = facts.service_date
        deal.location = location
        deal.partner = location.partner
        if prepayment_amount is not None:
            deal.prepayment_amount = prepayment_amount
        deal.status = deal_status_for(total=deal.total, paid=deal.paid, refunded=deal.refunded)
        deal.overpaid_amount = max(deal.paid - deal.total, ZERO)
        deal.save()
        deal_changed = before != (
            deal.total,
            deal.location_id,
            deal.partner_id,
            deal.prepayment_amount,
            deal.title,
        )
        links_changed = links_sync(deal)
        changed = created or deal_changed or links_changed
        note = (
            _links_note(deal)
            if changed and (created or (links_changed and partner_changed))
            else None
        )
        return LinksEnsured(deal=deal, changed=changed, note=note)


def _links_note(deal: Deal) -> str:
    lines = [_("Ссылки на оплату сформированы (%(partner)s):") % {"partner": deal.partner}]
    for link in deal.links.filter(status=LinkStatus.ACTIVE).order_by("kind"):
        lines.append(f"— {link.get_kind_display()}: {link.amount} ₽")
    return "\n".join(lines)
