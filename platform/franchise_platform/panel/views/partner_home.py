"""The home page of a partner user (a franchisee's own window): its shop, its money of the last 30
days and its newest payments, every figure confined to its partner (franchise_platform/scoping.py)."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from franchise_platform.network.models import Partner
from franchise_platform.payments.models import Deal, DealStatus
from franchise_platform.payments.selectors import payment_search, payment_totals
from franchise_platform.scoping import confine

from ..access import page

RECENT_PAYMENTS = 10
SUMMARY_DAYS = 30


def partner_home(request: HttpRequest) -> HttpResponse:
    user = request.user
    partner = confine(Partner.objects.select_related("provider_account"), user=user).first()
    since = timezone.now() - timedelta(days=SUMMARY_DAYS)
    payments = confine(payment_search(), user=user)
    open_deals = confine(Deal.objects.all(), user=user).filter(
        status__in=(DealStatus.OPEN, DealStatus.PARTIALLY_PAID)
    )
    context = {
        "partner": partner,
        "shop": getattr(partner, "provider_account", None),
        "month": payment_totals(payments=payments.filter(paid_at__gte=since)),
        "summary_days": SUMMARY_DAYS,
        "open_deals": open_deals.count(),
        "recent": list(payments[:RECENT_PAYMENTS]),
    }
    return page(request, "panel/partner_home.html", context)
