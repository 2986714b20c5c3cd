"""Reads about deals, links and payments."""

from __future__ import annotations

from franchise_platform.network.models import Partner

from .models import LinkStatus, PaymentLink


def partner_has_unpaid_links(*, partner: Partner) -> bool:
    """True while any active link of a deal drawn on this partner can still be paid."""
    return PaymentLink.objects.filter(deal__partner=partner, status=LinkStatus.ACTIVE).exists()
