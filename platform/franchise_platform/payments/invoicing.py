"""Resolving a payment link to a provider invoice for the amount due now (flow 2).

The link's row is locked while resolving, so two visits at once share one invoice. An invoice is
reused while it is unpaid, of the same amount and shop, and good for a few more minutes; otherwise
a new one is issued with the next InvId. Nothing stale can be paid through our link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing_providers.base import InvoiceRequest, ReceiptRequest
from billing_providers.base import PaymentKind as ProviderPaymentKind
from franchise_platform.network.models import Partner, ProviderAccount
from franchise_platform.network.selectors import network_settings_get

from .amounts import ZERO
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


def _issue(
    *,
    account: ProviderAccount,
    partner: Partner,
    amount: Decimal,
    kind: str,
    description: str,
    item_name: str,
    purpose: str,
    link: PaymentLink | None,
    test_mode: bool | None = None,
) -> Invoice:
    rules = network_settings_get()
    data = account_data(account, test_mode=test_mode)
    expires_at = timezone.now() + timedelta(hours=rules.invoice_ttl_hours)
    invoice = Invoice.objects.create(
        purpose=purpose,
        link=link,
        deal=link.deal if link else None,
        provider_account=account,
        provider=account.provider,
        amount=amount,
        payment_kind=kind,
        is_test=data.test_mode,
        expires_at=expires_at,
        payment_url="",
    )
    receipt = None
    if data.fiscalization:
        receipt = ReceiptRequest(
            tax_system=partner.tax_system,
            vat=partner.vat,
            item_name=item_name,
            amount=amount,
            payment_kind=ProviderPaymentKind(kind),
        )
    issued = provider_get(account.provider).issue_invoice(
        data,
        InvoiceRequest(
            invoice_id=invoice.pk,
            amount=amount,
            description=description[:100],
            expires_at=expires_at,
            receipt=receipt,
        ),
    )
    invoice.payment_url = issued.payment_url
    invoice.receipt_json = issued.receipt_json or ""
    invoice.save(update_fields=["payment_url", "receipt_json"])
    return invoice


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
    now = timezone.now()
    reusable = (
        link.invoices.filter(
            status=InvoiceStatus.ISSUED,
            amount=link.amount,
            provider_account=account,
            expires_at__gt=now + REUSE_MARGIN,
        )
        .order_by("-id")
        .first()
    )
    if reusable is not None:
        return PayDecision(link=link, redirect_to=reusable.payment_url)
    link.invoices.filter(status=InvoiceStatus.ISSUED).update(status=InvoiceStatus.EXPIRED)
    rules = network_settings_get()
    location_name = deal.location.name if deal.location else ""
    invoice = _issue(
        account=account,
        partner=partner,
        amount=link.amount,
        kind=_payment_kind(link),
        description=_("Оплата: %(title)s")
        % {"title": deal.title or _("сделка №%(id)s") % {"id": deal.crm_deal_id}},
        item_name=_item_name(rules.item_name, location_name),
        purpose=InvoicePurpose.LINK,
        link=link,
    )
    return PayDecision(link=link, redirect_to=invoice.payment_url)


def shop_check_invoice_issue(*, partner: Partner, amount: Decimal = Decimal("10.00")) -> Invoice:
    """A test-mode invoice proving the partner's shop is wired: paying it in Robokassa's test mode
    calls our Result URL, which marks the shop checked («Магазин подключён»)."""
    account = partner.provider_account
    return _issue(
        account=account,
        partner=partner,
        amount=amount,
        kind=PaymentKind.FULL,
        description=_("Проверка подключения магазина"),
        item_name=_("Проверка подключения магазина"),
        purpose=InvoicePurpose.SHOP_CHECK,
        link=None,
        test_mode=True,
    )
