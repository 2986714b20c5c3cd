"""Resolving a payment link to a provider invoice for the amount due now (flow 2).

The link's row is locked while resolving, so two visits at once share one invoice. An invoice is
reused only while everything signed into it is still what we would sign now (its fingerprint:
amount, shop, credentials, test flag, receipt) and it is good for a few more minutes; otherwise a
new one is issued with the next InvId (payments/invoice_numbers.py), a fresh Shp_ marker and a
short ExpirationDate. Nothing stale can be paid through our link.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from billing_providers.base import InvoiceRequest, IssuedInvoice, ReceiptRequest
from billing_providers.base import PaymentKind as ProviderPaymentKind
from billing_providers.base import ProviderAccount as ProviderAccountData
from billing_providers.errors import ProviderConfigError, ProviderError
from franchise_platform.network.models import Partner, ProviderAccount
from franchise_platform.network.rules import vat_problem
from franchise_platform.network.selectors import network_settings_get
from tenants.services import network_base_url

from .amounts import ZERO
from .buyer_contact import deal_contact, deal_contact_forget
from .invoice_numbers import invoice_number_next
from .models import (
    Deal,
    Invoice,
    InvoicePurpose,
    InvoiceStatus,
    LinkKind,
    LinkStatus,
    PaymentKind,
    PaymentLink,
)
from .providers import account_data, provider_get
from .returns import return_check

# An invoice about to expire is not handed out: the buyer needs time on the payment page.
REUSE_MARGIN = timedelta(minutes=10)
# The custom field (Robokassa: Shp_mark) that carries an invoice's marker.
MARKER_FIELD = "mark"


def payment_window() -> timedelta:
    return timedelta(minutes=settings.INVOICE_PAYMENT_WINDOW_MINUTES)


@dataclass(frozen=True)
class _Signed:
    """Everything that goes into a payment request, decided before an invoice is looked for."""

    data: ProviderAccountData
    amount: Decimal
    kind: str
    description: str
    receipt: ReceiptRequest | None
    service_rendered: bool = False
    # The buyer's contact, only for a provider that sends the receipt itself and needs one.
    email: str | None = None
    phone: str | None = None

    def fingerprint(self, account: ProviderAccount) -> str:
        password = "test_password1" if self.data.test_mode else "password1"
        receipt = self.receipt
        inputs = {
            "provider": account.provider,
            "login": self.data.login,
            "algorithm": self.data.hash_algorithm,
            # The pair that signs and verifies this invoice; only a keyed digest is stored.
            "password1": self.data.secrets.get(password, ""),
            "password2": self.data.secrets.get(password.replace("1", "2"), ""),
            "test": self.data.test_mode,
            "fiscalization": self.data.fiscalization,
            "amount": str(self.amount),
            "kind": self.kind,
            "description": self.description,
            "service_rendered": self.service_rendered,
            "receipt": None
            if receipt is None
            else [receipt.tax_system, receipt.vat, receipt.item_name, str(receipt.amount)],
        }
        if self.email or self.phone:
            # Sent with the payment: another contact is another request (absent otherwise, so
            # the fingerprints of shops that need none stay as they were).
            inputs["contact"] = [self.email or "", self.phone or ""]
        payload = json.dumps(inputs, sort_keys=True, ensure_ascii=False)
        return salted_hmac("invoice-fingerprint", payload, algorithm="sha256").hexdigest()


@dataclass(frozen=True)
class PayDecision:
    """Either `redirect_to` (the provider's page) or a reason the link cannot be paid now."""

    link: PaymentLink
    redirect_to: str | None = None
    reason: str | None = None  # paid | closed | nothing_due | contact_needed
    remaining_link: PaymentLink | None = None
    # contact_needed: the contacts the provider takes (``buyer_contact_kinds``), and whether it
    # has just refused the one the deal had.
    contact_kinds: tuple[str, ...] = ()
    contact_refused: bool = False


def _payment_kind(link: PaymentLink) -> str:
    deal = link.deal
    if link.kind == LinkKind.PREPAYMENT and link.amount < deal.total:
        return PaymentKind.PREPAYMENT
    return PaymentKind.REMAINDER if deal.paid > ZERO else PaymentKind.FULL


def _item_name(template: str, location_name: str) -> str:
    # The template may hold only the {location} placeholder (checked when saved); replace() keeps
    # braces in a location's name from being read as format fields.
    return template.replace("{location}", location_name)[:128]


def _signed(
    *,
    account: ProviderAccount,
    partner: Partner,
    amount: Decimal,
    kind: str,
    description: str,
    item_name: str,
    test_mode: bool | None = None,
    service_rendered: bool = False,
    email: str = "",
    phone: str = "",
) -> _Signed:
    data = account_data(account, test_mode=test_mode)
    receipt = None
    if data.fiscalization:
        problem = vat_problem(tax_system=partner.tax_system, vat=partner.vat)
        if problem is not None:
            # A receipt with a rate that is not legal today is never handed to a buyer.
            raise ProviderConfigError(str(problem.message), code=problem.code)
        receipt = ReceiptRequest(
            tax_system=partner.tax_system,
            vat=partner.vat,
            item_name=item_name,
            amount=amount,
            payment_kind=ProviderPaymentKind(kind),
            service_rendered=service_rendered,
        )
    return _Signed(
        data=data,
        amount=amount,
        kind=kind,
        description=description[:100],
        receipt=receipt,
        service_rendered=service_rendered,
        email=email or None,
        phone=phone or None,
    )


def _invoice_create(
    *,
    account: ProviderAccount,
    signed: _Signed,
    purpose: str,
    link: PaymentLink | None,
    fingerprint: str,
    idempotence: bool,
) -> Invoice:
    """The invoice row, not yet handed to the provider (no payment URL)."""
    rules = network_settings_get()
    now = timezone.now()
    expires_at = now + min(timedelta(hours=rules.invoice_ttl_hours), payment_window())
    invoice = Invoice.objects.create(
        id=invoice_number_next(account=account, data=signed.data),
        purpose=purpose,
        link=link,
        deal=link.deal if link else None,
        provider_account=account,
        provider=account.provider,
        amount=signed.amount,
        payment_kind=signed.kind,
        is_test=signed.data.test_mode,
        marker=secrets.token_hex(8),
        fingerprint=fingerprint,
        expires_at=expires_at,
        payment_url="",
        settles_service=signed.service_rendered,
    )
    if idempotence:
        key = provider_get(account.provider).invoice_idempotence_key(invoice.pk)
        if key:
            invoice.idempotence_key = key
            invoice.save(update_fields=["idempotence_key"])
    return invoice


def _provider_issue(invoice: Invoice, signed: _Signed) -> IssuedInvoice:
    """Hand the invoice to its provider. For a provider that issues over the network this is the
    call that creates the payment: made with the key stored with the invoice, so a repeat (after
    a crash or a lost answer) yields the same payment, never a second one."""
    return provider_get(invoice.provider).issue_invoice(
        signed.data,
        InvoiceRequest(
            invoice_id=invoice.pk,
            amount=invoice.amount,
            description=signed.description,
            expires_at=invoice.expires_at,
            receipt=signed.receipt,
            extra={MARKER_FIELD: invoice.marker},
            idempotence_key=invoice.idempotence_key,
            return_url=_return_url(invoice),
            email=signed.email,
            phone=signed.phone,
        ),
    )


def _return_url(invoice: Invoice) -> str:
    """The buyer's way back from the provider's page: the partner's generic return address on
    the network's own host (a provider that takes it per payment; Robokassa's is in its cabinet)."""
    network = getattr(connection, "tenant", None)
    if network is None or not hasattr(network, "schema_name"):
        return ""
    partner_id = invoice.provider_account.partner_id
    return (
        f"{network_base_url(network)}/callbacks/{invoice.provider}/{partner_id}/success/"
        f"?invoice={invoice.pk}&check={return_check(invoice.pk)}"
    )


def _issued_store(invoice: Invoice, issued: IssuedInvoice) -> None:
    invoice.payment_url = issued.payment_url
    invoice.receipt_json = issued.receipt_json or ""
    invoice.provider_reference = issued.provider_reference[:100]
    # A provider may give a shorter life than asked (YooKassa's payment page lapses in an hour).
    invoice.expires_at = min(invoice.expires_at, issued.expires_at)
    # One row by its key, no other lock: the link's and the deal's rows are not touched.
    Invoice.objects.filter(pk=invoice.pk).update(
        payment_url=invoice.payment_url,
        receipt_json=invoice.receipt_json,
        provider_reference=invoice.provider_reference,
        expires_at=invoice.expires_at,
    )


def _issue(
    *,
    account: ProviderAccount,
    signed: _Signed,
    purpose: str,
    link: PaymentLink | None,
    fingerprint: str,
) -> Invoice:
    """Create and sign an invoice in the caller's transaction (a provider that needs no network)."""
    invoice = _invoice_create(
        account=account,
        signed=signed,
        purpose=purpose,
        link=link,
        fingerprint=fingerprint,
        idempotence=False,
    )
    _issued_store(invoice, _provider_issue(invoice, signed))
    return invoice


def _issue_over_network(invoice: Invoice, signed: _Signed) -> Invoice:
    """Phase two of a network issue, outside every transaction and row lock: the invoice and its
    key are committed already, so a slow provider holds up only this buyer and a crash here
    leaves a pending invoice whose next visit repeats the same request."""
    try:
        issued = _provider_issue(invoice, signed)
    except ProviderError as exc:
        if exc.permanent:
            # Refused (settings, or the key already used for other data): the provider made no
            # payment under this key. Retire the number; the next visit issues a fresh one.
            Invoice.objects.filter(
                pk=invoice.pk, status=InvoiceStatus.ISSUED, payment_url=""
            ).update(status=InvoiceStatus.RETIRED)
        raise
    _issued_store(invoice, issued)
    return invoice


def _pending(invoice: Invoice) -> bool:
    return not invoice.payment_url


def service_rendered(deal: Deal) -> bool:
    """A payment now is made at or after the start of the service (or its delivery): its
    receipt settles (`full_payment`) instead of being another advance (fiscal.md §1.2)."""
    if deal.delivered_at is not None:
        return True
    return deal.service_date is not None and timezone.now() >= deal.service_date


def invoices_retire_open(*, account_id: uuid.UUID | None = None, purpose: str | None = None) -> int:
    """Withdraw the unpaid invoices of one shop (or, without `account_id`, of the network): what
    was signed into them is no longer current. A late payment on one is still recorded."""
    invoices = Invoice.objects.filter(status=InvoiceStatus.ISSUED)
    if account_id is not None:
        invoices = invoices.filter(provider_account_id=account_id)
    if purpose is not None:
        invoices = invoices.filter(purpose=purpose)
    return invoices.update(status=InvoiceStatus.RETIRED)


def invoice_for_link(*, token: str) -> PayDecision:
    """Resolve /pay/<token>. Raises PaymentLink.DoesNotExist for an unknown token, ProviderError
    when the provider cannot issue now.

    Decided under the deal's and the link's locks; for a provider that issues over the network
    the call itself comes after that transaction committed (`_issue_over_network`)."""
    decision, pending = _link_resolve(token=token)
    if pending is None:
        return decision
    invoice, signed = pending
    try:
        invoice = _issue_over_network(invoice, signed)
    except ProviderConfigError as exc:
        if exc.code != "bad_contact" or not (signed.email or signed.phone):
            raise
        # The provider would not take the contact for its receipt (its register wants an
        # e-mail, say): forget it and ask the buyer again; the refused invoice is retired.
        deal_contact_forget(
            deal_id=decision.link.deal_id, email=signed.email or "", phone=signed.phone or ""
        )
        kinds = provider_get(invoice.provider).buyer_contact_kinds(signed.data)
        if signed.phone and not signed.email:
            kinds = ("email",)  # a phone refused: the register sends receipts by e-mail only
        return PayDecision(
            link=decision.link,
            reason="contact_needed",
            contact_kinds=kinds or ("email",),
            contact_refused=True,
        )
    return PayDecision(link=decision.link, redirect_to=invoice.payment_url)


@transaction.atomic
def _link_resolve(*, token: str) -> tuple[PayDecision, tuple[Invoice, _Signed] | None]:
    """Locks follow the one order every writer of a deal uses (deal, then its links and invoices), so
    a visit racing a payment being applied waits instead of deadlocking.
    """
    deal_id = PaymentLink.objects.values_list("deal_id", flat=True).get(token=token)
    deal = (
        Deal.objects.select_for_update(of=("self",))
        .select_related("partner__provider_account", "location")
        .get(pk=deal_id)
    )
    link = PaymentLink.objects.select_for_update().get(token=token)
    link.deal = deal
    if link.status != LinkStatus.ACTIVE or link.amount <= ZERO:
        remaining = (
            deal.links.filter(status=LinkStatus.ACTIVE, kind=LinkKind.FULL)
            .exclude(pk=link.pk)
            .first()
        )
        return PayDecision(
            link=link,
            reason=link.status if link.status != LinkStatus.ACTIVE else "nothing_due",
            remaining_link=remaining,
        ), None
    partner = deal.partner
    assert partner is not None, "a deal gets links only once its partner is known"
    account = partner.provider_account
    kinds = provider_get(account.provider).buyer_contact_kinds(account_data(account))
    email = phone = ""
    if kinds:
        email, phone = deal_contact(deal, kinds)
        if not (email or phone):
            return PayDecision(link=link, reason="contact_needed", contact_kinds=kinds), None
    rules = network_settings_get()
    location_name = deal.location.name if deal.location else ""
    signed = _signed(
        account=account,
        partner=partner,
        amount=link.amount,
        kind=_payment_kind(link),
        description=_("Оплата: %(title)s")
        % {"title": deal.title or _("сделка №%(id)s") % {"id": deal.crm_deal_id}},
        item_name=_item_name(rules.item_name, location_name),
        service_rendered=service_rendered(deal),
        email=email,
        phone=phone,
    )
    fingerprint = signed.fingerprint(account)
    now = timezone.now()
    reusable = (
        link.invoices.filter(
            status=InvoiceStatus.ISSUED,
            provider_account=account,
            fingerprint=fingerprint,
            expires_at__gt=now + min(REUSE_MARGIN, payment_window() / 3),
        )
        .order_by("-id")
        .first()
    )
    if reusable is not None and _pending(reusable):
        # Stored with its key but the provider's answer never arrived (a crash, a lost reply, or
        # another visit's call still under way): repeat the same request, which cannot create a
        # second payment.
        return PayDecision(link=link), (reusable, signed)
    if reusable is not None:
        return PayDecision(link=link, redirect_to=reusable.payment_url), None
    link.invoices.filter(status=InvoiceStatus.ISSUED).update(status=InvoiceStatus.EXPIRED)
    if provider_get(account.provider).issues_over_network:
        invoice = _invoice_create(
            account=account,
            signed=signed,
            purpose=InvoicePurpose.LINK,
            link=link,
            fingerprint=fingerprint,
            idempotence=True,
        )
        return PayDecision(link=link), (invoice, signed)
    invoice = _issue(
        account=account,
        signed=signed,
        purpose=InvoicePurpose.LINK,
        link=link,
        fingerprint=fingerprint,
    )
    return PayDecision(link=link, redirect_to=invoice.payment_url), None


def shop_check_invoice_issue(*, partner: Partner, amount: Decimal = Decimal("10.00")) -> Invoice:
    """A test-mode invoice proving the partner's shop is wired: paying it in Robokassa's test mode
    calls our Result URL, which marks the shop checked («Магазин подключён»)."""
    account = partner.provider_account
    signed = _signed(
        account=account,
        partner=partner,
        amount=amount,
        kind=PaymentKind.FULL,
        description=_("Проверка подключения магазина"),
        item_name=_("Проверка подключения магазина"),
        test_mode=True,
    )
    fingerprint = signed.fingerprint(account)
    if not provider_get(account.provider).issues_over_network:
        return _issue(
            account=account,
            signed=signed,
            purpose=InvoicePurpose.SHOP_CHECK,
            link=None,
            fingerprint=fingerprint,
        )
    with transaction.atomic():
        invoice = _invoice_create(
            account=account,
            signed=signed,
            purpose=InvoicePurpose.SHOP_CHECK,
            link=None,
            fingerprint=fingerprint,
            idempotence=True,
        )
    return _issue_over_network(invoice, signed)
