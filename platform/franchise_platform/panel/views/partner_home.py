"""The home page of a partner user (a franchisee's own window): its shop, the dashboard's last 30
days and its newest payments, every figure confined to its partner (franchise_platform/scoping.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from franchise_platform.network.models import Partner
from franchise_platform.payments.models import Deal, DealStatus
from franchise_platform.payments.selectors import payment_search
from franchise_platform.scoping import confine, scope_partner_id

from ..access import page
from .dashboard import home_summary

RECENT_PAYMENTS = 10


def partner_home(request: HttpRequest) -> HttpResponse:
    user = request.user
    partner = confine(Partner.objects.select_related("provider_account"), user=user).first()
    payments = confine(payment_search(), user=user)
    open_deals = confine(Deal.objects.all(), user=user).filter(
        status__in=(DealStatus.OPEN, DealStatus.PARTIALLY_PAID)
    )
    context = {
        "partner": partner,
        "shop": getattr(partner, "provider_account", None),
        "open_deals": open_deals.count(),
        "recent": list(payments[:RECENT_PAYMENTS]),
        **home_summary(partner_id=str(scope_partner_id(user))),
    }
    return page(request, "panel/partner_home.html", context)
