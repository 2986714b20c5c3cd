"""The buyer coming back from the provider's payment page (Robokassa's SuccessURL and FailURL).

Those addresses are public and name an invoice by its InvId, which is our own sequence: anyone can
type `?InvId=41`, `42`, ... So the pages say something about an invoice only when the provider's
signature over the returned fields proves the provider sent the buyer back for that very invoice
(Robokassa signs SuccessURL with Password #1; it signs no FailURL, so a fail page normally shows no
details at all). Without that proof the buyer gets a neutral page that is the same for every
InvId, existing or not: nothing about the invoice, its deal or its payment link. Even a proven
return is not proof of payment: only the server-to-server notification (callbacks.py) is.
"""

from __future__ import annotations

from collections.abc import Mapping

from .models import Invoice
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
