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
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from billing_providers.base import InvoiceRequest, ReceiptRequest
from billing_providers.base import PaymentKind as ProviderPaymentKind
from billing_providers.base import ProviderAccount as ProviderAccountData
from billing_providers.errors import ProviderConfigError
from franchise_platform.network.models import Partner, ProviderAccount
from franchise_platform.network.rules import vat_problem
from franchise_platform.network.selectors import network_settings_get

from .amounts import ZERO
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
        payload = json.dumps(inputs, sort_keys=True, ensure_ascii=False)
        return salted_hmac("invoice-fingerprint", payload, algorithm="sha256").hexdigest()


@dataclass(frozen=True)
class PayDecision:
    """Either `redirect_to` (the provider's page) or a reason the link cannot be paid now."""

    link: PaymentLink
    redirect_to: str | None = None
    reason: str | None = None  # paid | closed | nothing_due
    remaining_link: PaymentLink | None = None


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
    )


def _issue(
    *,
    account: ProviderAccount,
    signed: _Signed,
    purpose: str,
    link: PaymentLink | None,
    fingerprint: str,
) -> Invoice:
    rules = network_settings_get()
    now = timezone.now()
    expires_at = now + min(timedelta(hours=rules.invoice_ttl_hours), payment_window())
    marker = secrets.token_hex(8)
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
        marker=marker,
        fingerprint=fingerprint,
        expires_at=expires_at,
        payment_url="",
        settles_service=signed.service_rendered,
    )
    issued = provider_get(account.provider).issue_invoice(
        signed.data,
        InvoiceRequest(
            invoice_id=invoice.pk,
            amount=signed.amount,
            description=signed.description,
            expires_at=expires_at,
            receipt=signed.receipt,
            extra={MARKER_FIELD: marker},
        ),
    )
    invoice.payment_url = issued.payment_url
    invoice.receipt_json = issued.receipt_json or ""
    invoice.save(update_fields=["payment_url", "receipt_json"])
    return invoice


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


@transaction.atomic
def invoice_for_link(*, token: str) -> PayDecision:
    """Resolve /pay/<token>. Raises PaymentLink.DoesNotExist for an unknown token.

    Locks follow the one order every writer of a deal uses (deal, then its links and invoices), so
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
        )
    partner = deal.partner
    assert partner is not None, "a deal gets links only once its partner is known"
    account = partner.provider_account
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
    if reusable is not None:
        return PayDecision(link=link, redirect_to=reusable.payment_url)
    link.invoices.filter(status=InvoiceStatus.ISSUED).update(status=InvoiceStatus.EXPIRED)
    invoice = _issue(
        account=account,
        signed=signed,
        purpose=InvoicePurpose.LINK,
        link=link,
        fingerprint=fingerprint,
    )
    return PayDecision(link=link, redirect_to=invoice.payment_url)


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
    return _issue(
        account=account,
        signed=signed,
        purpose=InvoicePurpose.SHOP_CHECK,
        link=None,
        fingerprint=signed.fingerprint(account),
    )
