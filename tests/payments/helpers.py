"""Shared steps for payment tests: a deal with links, a visit to /pay/, a provider callback."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from franchise_platform.flows.button import deal_links_ensure
from franchise_platform.payments.links import LeadFacts
from franchise_platform.payments.models import Invoice, LinkStatus
from tests.fakes.robokassa import result_callback_form


def deal_with_links(location, *, total="5000", lead=7001):
    return deal_links_ensure(
        facts=LeadFacts(
            crm="amocrm",
            crm_deal_id=lead,
            title="Квест",
            total=Decimal(total),
            location_id=str(location.pk),
        )
    )


def active_link(deal, kind):
    return deal.links.get(kind=kind, status=LinkStatus.ACTIVE)


def visit(client, link):
    """GET /pay/<token>; returns (response, query params of the redirect or None)."""
    response = client.get(f"/pay/{link.token}")
    if response.status_code != 302:
        return response, None
    return response, {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}


def invoice_marker_shp(inv_id):
    """The Shp_ marker Robokassa echoes for one of our invoices (none for an unknown InvId)."""
    marker = Invoice.objects.filter(pk=inv_id).values_list("marker", flat=True).first()
    return {"Shp_mark": marker} if marker else {}


def callback(
    client, account, *, inv_id, out_sum, password2=None, is_test=False, algorithm=None, shp=None
):
    """POST the form Robokassa sends to ResultURL, echoing the invoice's marker like Robokassa
    does (pass `shp` to send other custom fields instead)."""
    form = result_callback_form(
        out_sum=out_sum,
        inv_id=inv_id,
        password2=password2 or (account.test_password2 if is_test else account.password2),
        hash_algorithm=algorithm or account.hash_algorithm,
        is_test=is_test,
        shp=invoice_marker_shp(inv_id) if shp is None else shp,
    )
    return client.post(f"/callbacks/robokassa/{account.partner_id}/result/", form)
