"""Settlement receipts in the panel: «Услуга оказана» on a deal's page (owners and admins), and
the receipts that need a person's look (failed, or not registered in time), for everyone who
may read the network."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from franchise_platform.payments.delivery import DeliverySource, deal_deliver
from franchise_platform.payments.selectors import deal_get, settlement_receipts_attention
from franchise_platform.scoping import confine

from ..access import actor, page, panel_view

RECEIPTS_PAGE_SIZE = 50


@require_POST
@panel_view(edit=True)
def deal_delivered(request: HttpRequest, deal_id: str) -> HttpResponse:
    deal = deal_get(deal_id=deal_id)
    already = deal.delivered_at is not None
    _deal, created = deal_deliver(deal_id=deal.pk, source=DeliverySource.PANEL, **actor(request))
    if already and not created:
        messages.info(request, _("Услуга уже отмечена оказанной."))
    elif created:
        messages.success(
            request,
            _("Услуга отмечена оказанной. Итоговых чеков к отправке: %(n)s.") % {"n": len(created)},
        )
    else:
        messages.success(request, _("Услуга отмечена оказанной. Итоговые чеки не нужны."))
    return redirect("panel:deal_detail", deal_id=deal.pk)


@panel_view(scoped=True)
def receipts_attention(request: HttpRequest) -> HttpResponse:
    receipts = confine(settlement_receipts_attention(), user=request.user)
    paginator = Paginator(receipts, RECEIPTS_PAGE_SIZE)
    page_obj = paginator.get_page(request.GET.get("page"))
    context = {"page_obj": page_obj, "receipts": page_obj.object_list}
    return page(request, "panel/payments/receipts.html", context)
