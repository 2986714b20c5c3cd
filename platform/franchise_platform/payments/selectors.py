"""Reads about deals, links and payments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from franchise_platform.network.models import Partner
from tenants.models import Network
from tenants.services import network_base_url

from .models import Deal, LinkKind, LinkStatus, Payment, PaymentLink


def partner_has_unpaid_links(*, partner: Partner) -> bool:
    """True while any active link of a deal drawn on this partner can still be paid."""
    return PaymentLink.objects.filter(deal__partner=partner, status=LinkStatus.ACTIVE).exists()


def deal_by_crm_id(*, crm_deal_id: int, crm: str = "amocrm") -> Deal | None:
    return (
        Deal.objects.select_related("location", "partner")
        .filter(crm=crm, crm_deal_id=crm_deal_id)
        .first()
    )


def _money(value: Any) -> str:
    return f"{value:.2f}"


def deal_links_view(*, deal: Deal, network: Network) -> dict[str, Any]:
    """The widget's answer for a deal (CONTRACT.md "Widget API"): the active link of each kind,
    or its newest paid or closed one, with the amount it asks now."""
    base = network_base_url(network)
    links = []
    by_kind: dict[str, PaymentLink] = {}
    for link in deal.links.order_by("created_at"):
        current = by_kind.get(link.kind)
        if current is None or current.status != LinkStatus.ACTIVE:
            by_kind[link.kind] = link
    for kind in (LinkKind.PREPAYMENT, LinkKind.FULL):
        link = by_kind.get(kind)
        if link is None:
            continue
        links.append(
            {
                "kind": kind,
                "url": f"{base}/pay/{link.token}",
                "amount": _money(link.amount),
                "status": link.status,
            }
        )
    return {
        "lead_id": deal.crm_deal_id,
        "deal": {
            "total": _money(deal.total),
            "paid": _money(deal.paid),
            "remaining": _money(deal.remaining),
            "currency": "RUB",
            "status": deal.status,
            "overpaid": _money(deal.overpaid_amount),
        },
        "location": {"id": str(deal.location_id), "name": deal.location.name}
        if deal.location
        else None,
        "partner": {"id": str(deal.partner_id), "name": deal.partner.name}
        if deal.partner
        else None,
        "links": links,
    }


def deal_payments_view(*, deal: Deal) -> list[dict[str, Any]]:
    return [
        {
            "amount": _money(p.amount),
            "paid_at": p.paid_at.isoformat(),
            "invoice_id": p.invoice_id,
            "partner_id": str(p.partner_id),
            "kind": p.kind,
        }
        for p in deal.payments.order_by("paid_at")
    ]


def payment_list(
    *, partner_id: str | None = None, since: datetime | None = None, until: datetime | None = None
) -> QuerySet[Payment]:
    payments = Payment.objects.select_related("deal", "partner").order_by("-paid_at", "-invoice_id")
    if partner_id:
        payments = payments.filter(partner_id=partner_id)
    if since:
        payments = payments.filter(paid_at__gte=since)
    if until:
        payments = payments.filter(paid_at__lt=until)
    return payments
