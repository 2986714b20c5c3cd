"""The buyer coming back from the provider's payment page (Robokassa's SuccessURL and FailURL).

Those addresses are public and name an invoice by its InvId, which is our own sequence: anyone can
type `?InvId=41`, `42`, ... So the pages say something about an invoice only when the provider's
signature over the returned fields proves the provider sent the buyer back for that very invoice
(Robokassa signs SuccessURL with Password #1; it signs no FailURL, so a fail page normally shows no
details at all). Without that proof the buyer gets a neutral page that is the same for every
InvId, existing or not: nothing about the invoice, its deal or its payment link. Even a proven
return is not proof of payment: only the server-to-server notification (callbacks.py) is.

A provider that signs no return (its return address carries nothing of its own) is sent back to an
address of ours that carries its own proof instead: the invoice number and a keyed digest of it
(`return_check`), unguessable for any other invoice. That page says the payment is being
confirmed and polls `return_state`, which only reads what the verified notification or the
reconciliation recorded; it never asks the provider and never records anything.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from django.db import connection
from django.utils.crypto import salted_hmac

from .models import Invoice, InvoiceStatus, LinkStatus
from .providers import account_data, provider_get


def invoice_for_buyer_return(
    *, partner_id: str, params: Mapping[str, str], provider_slug: str = "robokassa"
) -> Invoice | None:
    """The invoice of this partner's shop that the provider, by its signature, sent the buyer
    back for; None when the signature is absent or wrong, or names nothing of this shop."""
    provider = provider_get(provider_slug)
    # No signature field at all (every FailURL, any hand-typed address): answered without a query,
    # so an unsigned request cannot even tell an existing InvId from a missing one by timing.
    if not any(name.lower() in provider.signature_fields for name in params):
        return None
    inv_id = provider.callback_invoice_id(params)
    if inv_id is None:
        return None
    invoice = (
        Invoice.objects.select_related("provider_account__partner", "link")
        .filter(pk=inv_id, provider_account__partner_id=partner_id)
        .first()
    )
    if invoice is None:
        return None
    account = invoice.provider_account
    verdict = provider.verify_success_redirect(
        account_data(account, test_mode=invoice.is_test or account.test_mode),
        params,
        expected_amount=invoice.amount,
    )
    # A live invoice is never returned with IsTest=1 (nor the reverse): the test passwords are not
    # the live ones, and one must not vouch for the other.
    if (
        not verdict.accepted
        or verdict.invoice_id != invoice.pk
        or verdict.is_test != invoice.is_test
    ):
        return None
    return invoice


RETURN_INVOICE_PARAM = "invoice"
RETURN_CHECK_PARAM = "check"


def return_check(invoice_id: int) -> str:
    """The keyed digest our return address carries for ``invoice_id`` (in this network)."""
    schema = getattr(connection, "schema_name", "")
    return salted_hmac("buyer-return", f"{schema}:{invoice_id}", algorithm="sha256").hexdigest()[
        :32
    ]


def invoice_for_checked_return(
    *, partner_id: str, params: Mapping[str, str], provider_slug: str
) -> Invoice | None:
    """The invoice our own return address names and proves (``return_check``), of this partner
    at this provider; None for anything else, answered the same way whatever it names."""
    raw_id = (params.get(RETURN_INVOICE_PARAM) or "").strip()
    check = params.get(RETURN_CHECK_PARAM) or ""
    if not raw_id.isdigit() or len(raw_id) > 18 or not check:
        return None
    if not hmac.compare_digest(return_check(int(raw_id)), check[:64]):
        return None
    return (
        Invoice.objects.select_related("provider_account__partner", "link")
        .filter(pk=int(raw_id), provider_account__partner_id=partner_id, provider=provider_slug)
        .first()
    )


def return_state(invoice: Invoice) -> dict[str, str]:
    """What the buyer's return page shows, from our records only: ``paid`` once the payment is
    recorded, ``not_paid`` when the invoice can no longer be paid, else ``confirming``; with the
    invoice's amount and, when it was not paid, the link to pay again while it takes payment."""
    invoice.refresh_from_db(fields=["status"])
    if invoice.status == InvoiceStatus.PAID:
        state = "paid"
    elif invoice.status == InvoiceStatus.ISSUED:
        state = "confirming"
    else:
        state = "not_paid"
    answer = {"state": state, "amount": format(invoice.amount, "f")}
    link = invoice.link
    if state == "not_paid" and link is not None and link.status == LinkStatus.ACTIVE:
        answer["pay_again"] = f"/pay/{link.token}"
    return answer
