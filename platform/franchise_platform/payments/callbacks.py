"""Provider callbacks (flow 3): verify over the raw values, store durably, answer, then apply.

`callback_receive` runs in the request: the event row is committed before the answer, so
`OK<InvId>` is never said about something we could lose. `callback_event_apply` runs in Celery,
inside the transaction of the flow franchise_platform.flows.payment.callback_apply (which then
queues the CRM changes), and is idempotent: a payment is unique per invoice, whatever the number
of callbacks or retries.
"""

from __future__ import annotations

import hmac
import logging
import re
import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing_providers.base import CallbackVerdict
from franchise_platform.db import schema_name
from franchise_platform.network.models import Partner, ProviderAccount
from franchise_platform.observability.metrics import metric_callback, metric_invoice_paid

from .amounts import ZERO
from .handoff import callback_handoff
from .hot_path import event_insert, invoice_with_account
from .inbox import refused_event_keep
from .invoicing import MARKER_FIELD
from .links import deal_status_for, links_sync
from .models import (
    CallbackEvent,
    CallbackStatus,
    Deal,
    Invoice,
    InvoicePurpose,
    InvoiceStatus,
    LinkStatus,
    Payment,
    PaymentSource,
)
from .providers import account_data, provider_get
from .settlement import settlement_receipts_queue

logger = logging.getLogger(__name__)

EMAIL_SHAPE = re.compile(r"[^@\s<>\"]{1,64}@[^@\s<>\"]+\.[^@\s<>\"]+")

SHOP_CHECK_HINTS = {
    "bad_signature": "Подпись уведомления не сходится: проверьте Пароль #2 (тестовый — для тестового режима) и алгоритм хеша.",
    "unexpected_test": "Пришло тестовое уведомление, а магазин в рабочем режиме.",
    "amount_mismatch": "Сумма в уведомлении не совпадает с суммой счёта.",
    "foreign_operation": "Уведомление не несёт метку счёта платформы: это операция самого магазина.",
}


@dataclass(frozen=True)
class CallbackAnswer:
    status: int
    body: str
    content_type: str = "text/plain"


def callback_receive(
    *,
    partner_id: str,
    raw: dict[str, list[str]],
    provider_slug: str = "robokassa",
    body: bytes = b"",
    remote_addr: str = "",
) -> CallbackAnswer:
    """Verify and store one notification; the answer the provider should get.

    `raw` holds the form or query fields, `body` the raw request body and `remote_addr` the
    sender as our trusted edge saw it; the provider picks what it reads (`callback_fields`).
    Refusals are answered 400 (503 when the provider could not be asked: it retries), except
    those the provider declares `acknowledged_refusals` (genuine, nothing to record: 200)."""
    provider = provider_get(provider_slug)
    # The values exactly as received (first of each name): a signature is over these strings.
    params = provider.callback_fields(form=raw, body=body, remote_addr=remote_addr)
    inv_id = provider.callback_invoice_id(params)
    # The usual case in one precomposed query (hot_path.py): the invoice with its shop (the
    # partner is needed by id only). Only when that finds nothing is the partner looked up alone,
    # to tell an unknown shop from an unknown invoice.
    invoice = invoice_with_account(inv_id, partner_id) if inv_id else None
    account: ProviderAccount | None
    known_partner_id: uuid.UUID | None
    if invoice is not None:
        account = invoice.provider_account
        known_partner_id = account.partner_id
    else:
        partner = Partner.objects.select_related("provider_account").filter(pk=partner_id).first()
        account = getattr(partner, "provider_account", None) if partner else None
        known_partner_id = partner.pk if partner else None
    if account is not None and account.provider != provider_slug:
        # The address names another provider than the partner's shop is at: never verified
        # with the wrong provider's rules.
        account, invoice = None, None
    if account is None:
        verdict = CallbackVerdict(
            False, inv_id, None, False, "unknown_shop", "No such shop in this network."
        )
    elif invoice is None:
        verdict = CallbackVerdict(
            False, inv_id, None, False, "unknown_invoice", "No such invoice for this shop."
        )
        if provider.acknowledged_refusals:
            # A genuine notification about no invoice of ours (YooKassa's refund events name a
            # refund): the provider tells, and such a one is acknowledged below.
            checked = provider.verify_callback(account_data(account), params, expected_amount=None)
            if checked.reason_code in provider.acknowledged_refusals:
                verdict = checked
    else:
        verdict = marker_checked(
            provider.verify_callback(
                account_data(account, test_mode=invoice.is_test or account.test_mode),
                params,
                expected_amount=invoice.amount,
            ),
            invoice,
        )
    metric_callback(accepted=verdict.accepted, reason=verdict.reason_code)
    if not verdict.accepted and verdict.reason_code in provider.acknowledged_refusals:
        # A genuine notification that pays nothing (YooKassa's refund events: refunds are
        # polled). Acknowledged so that it is not retried; nothing worth an inbox row.
        logger.info("callback acknowledged, nothing to apply: %s", verdict.reason_code)
        body_text, content_type = provider.acknowledge(verdict)
        return CallbackAnswer(200, body_text, content_type)
    refused_status = 503 if verdict.reason_code == "unavailable" else 400
    event = CallbackEvent(
        provider=provider_slug,
        partner_id=known_partner_id,
        provider_account=account,
        invoice_number=inv_id,
        params=params,
        amount=verdict.amount,
        is_test=verdict.is_test,
        accepted=verdict.accepted,
        reason_code=verdict.reason_code or "",
        reason=(verdict.reason or "")[:500],
        buyer_email=_email(verdict.email),
        status=CallbackStatus.PENDING if verdict.accepted else CallbackStatus.REFUSED,
    )
    if not verdict.accepted and not refused_event_keep(
        partner_id=known_partner_id, reason_code=verdict.reason_code, provider=provider_slug
    ):
        # This shop's share of the inbox for the hour is full (payments/inbox.py): a flood of
        # forged notifications is answered the same, quickly, and written nowhere.
        logger.info("callback refused, not kept: %s invoice=%s", verdict.reason_code, inv_id)
        body_text, content_type = provider.acknowledge(verdict)
        return CallbackAnswer(refused_status, body_text, content_type)
    if not verdict.accepted:
        with transaction.atomic():
            event.save()
            if (
                invoice is not None
                and invoice.purpose == InvoicePurpose.SHOP_CHECK
                and known_partner_id is not None
            ):
                hint = SHOP_CHECK_HINTS.get(verdict.reason_code or "", verdict.reason or "")
                Partner.objects.filter(pk=known_partner_id).update(shop_check_error=hint[:300])
        logger.info("callback refused: %s invoice=%s", verdict.reason_code, inv_id)
        body_text, content_type = provider.acknowledge(verdict)
        return CallbackAnswer(refused_status, body_text, content_type)
    try:
        # One INSERT is atomic by itself: in autocommit it is committed when it returns, with no
        # BEGIN/COMMIT round trips (a savepoint keeps an enclosing transaction usable on a repeat).
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():
                event_insert(event)
        else:
            event_insert(event)
    except IntegrityError:
        # A repeat of a notification already stored: same answer, nothing changes.
        pass
    else:
        schema = schema_name()
        transaction.on_commit(lambda: callback_handoff(schema=schema, event_id=str(event.pk)))
    body_text, content_type = provider.acknowledge(verdict)
    return CallbackAnswer(200, body_text, content_type)


def marker_checked(verdict: CallbackVerdict, invoice: Invoice) -> CallbackVerdict:
    """A correctly signed notification is ours only if it echoes the invoice's marker: the shop's
    own site may use the same InvId, and its notifications are signed with the same password."""
    if not verdict.accepted or not invoice.marker:
        return verdict  # refused already, or an invoice issued before markers existed
    echoed = verdict.extra.get(MARKER_FIELD, "")
    if hmac.compare_digest(echoed.encode(), invoice.marker.encode()):
        return verdict
    return replace(
        verdict,
        accepted=False,
        reason_code="foreign_operation",
        reason="The notification does not carry this invoice's marker (Shp_mark)",
    )


@dataclass(frozen=True)
class PaymentRecorded:
    """What ``payment_record`` changed, for the flow to tell the CRM."""

    payment: Payment
    deal: Deal
    # The note for the lead («Оплата … получена», or «ТЕСТ: …» for a test payment).
    note: str
    # Not counted as money: only the note goes to the lead.
    is_test: bool
    # No e-mail came with the payment: the lead's contact is to be read (fiscal.md §7).
    contact_wanted: bool


def callback_event_apply(*, event_id: str) -> PaymentRecorded | None:
    """Apply a stored, accepted notification in the caller's transaction; the payment it
    recorded, or None (a shop check, a payment recorded before, an event applied before).
    Idempotent; safe to run any number of times."""
    recorded: PaymentRecorded | None = None
    # No savepoint: the flow's transaction holds this and the CRM changes together.
    with transaction.atomic(savepoint=False):
        if settings.CALLBACK_APPLY_ASYNC_COMMIT:
            # Everything written here is derived from the event row, which was committed durably
            # before the provider heard OK. If a crash loses this transaction (PostgreSQL's
            # asynchronous commit: all of it or none, never a part), the event is still pending and
            # the sweeper applies it again. Not waiting for this WAL flush leaves the disk's flushes
            # to the commits that need them: the acknowledgements.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        event = (
            CallbackEvent.objects.select_for_update(skip_locked=True).filter(pk=event_id).first()
        )
        if event is None or event.status != CallbackStatus.PENDING:
            return None
        event.attempts += 1
        # Accepted events always name an invoice of their shop (checked before they were stored).
        invoice = Invoice.objects.get(
            pk=event.invoice_number or 0, provider_account_id=event.provider_account_id
        )
        if invoice.purpose == InvoicePurpose.SHOP_CHECK:
            _shop_checked(invoice)
        else:
            recorded = payment_record(
                invoice=invoice,
                source=PaymentSource.CALLBACK,
                paid_at=event.received_at,
                buyer_email=event.buyer_email,
            )
        event.status = CallbackStatus.APPLIED
        event.applied_at = timezone.now()
        event.save(update_fields=["status", "applied_at", "attempts"])
    return recorded


def _shop_checked(invoice: Invoice) -> None:
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.status != InvoiceStatus.PAID:
            invoice.status = InvoiceStatus.PAID
            invoice.paid_at = timezone.now()
            invoice.save(update_fields=["status", "paid_at"])
        Partner.objects.filter(provider_account=invoice.provider_account).update(
            shop_checked_at=timezone.now(), shop_check_error=""
        )


def _email(value: str | None) -> str:
    # Untrusted even when signed (the buyer typed it): kept only when it looks like an address.
    text = (value or "").strip()
    if len(text) > 254 or not EMAIL_SHAPE.fullmatch(text):
        return ""
    return text


def payment_record(
    *, invoice: Invoice, source: str, paid_at: datetime, buyer_email: str = ""
) -> PaymentRecorded | None:
    """Record that `invoice` was paid (callback or reconciliation): once, whatever happens.

    Moves the invoice to paid, adds the amount to the deal (its status only moves forward with
    the money; an overpayment is kept and flagged, never hidden), re-prices the full link to what
    remains; the caller (a flow, in the same transaction) queues the CRM updates from the answer.
    A test-mode payment is recorded and noted as «ТЕСТ» but
    is never money: the deal, its links and the lead's paid state stay as they were. A payment on
    a superseded invoice (re-priced or closed link, retired invoice) is real money: recorded, and
    what it brought beyond the deal's total is shown as due back. Returns what was recorded, or
    None if the payment already existed.
    """
    # No savepoint: any error here aborts the caller's transaction as a whole (nothing half-done).
    with transaction.atomic(savepoint=False):
        # Lock order: deal, then invoice (as /pay/ and link generation do) — never the reverse.
        assert invoice.deal_id is not None, "a link invoice always has a deal"
        deal = Deal.objects.select_for_update().get(pk=invoice.deal_id)
        invoice = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("provider_account__partner", "link")
            .get(pk=invoice.pk)
        )
        if Payment.objects.filter(invoice=invoice).exists():
            return None
        link = invoice.link
        superseded = not invoice.is_test and (
            invoice.status != InvoiceStatus.ISSUED
            or (
                link is not None
                and (link.status != LinkStatus.ACTIVE or link.amount != invoice.amount)
            )
        )
        payment = Payment(
            invoice=invoice,
            deal=deal,
            partner=invoice.provider_account.partner,
            amount=invoice.amount,
            kind=invoice.payment_kind,
            source=source,
            is_test=invoice.is_test,
            superseded=superseded,
            paid_at=paid_at,
            buyer_email=buyer_email,
        )
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = paid_at
        invoice.save(update_fields=["status", "paid_at"])
        if invoice.is_test:
            payment.save()
            deal.test_paid = deal.test_paid + invoice.amount
            deal.save(update_fields=["test_paid", "updated_at"])
            metric_invoice_paid(source="test")
            logger.info("test payment recorded: invoice=%s (not counted)", invoice.pk)
            return PaymentRecorded(payment, deal, _test_note(payment), True, False)
        overpaid_before = deal.overpaid_amount
        deal.paid = deal.paid + invoice.amount
        deal.status = deal_status_for(total=deal.total, paid=deal.paid, refunded=deal.refunded)
        deal.overpaid_amount = max(deal.paid - deal.total, ZERO)
        deal.save(update_fields=["paid", "status", "overpaid_amount", "updated_at"])
        payment.refund_due = min(invoice.amount, max(deal.overpaid_amount - overpaid_before, ZERO))
        payment.save()
        metric_invoice_paid(source=source)
        if invoice.settles_service or deal.delivered_at is not None:
            # Paid at or after the service: the earlier advances are settled now (fiscal.md
            # §1.3 b), and so is this one if its receipt was still an advance (§1.3 e).
            settlement_receipts_queue(deal=deal)
        links_sync(deal)
        recorded = PaymentRecorded(
            payment, deal, _payment_note(payment, deal), False, contact_wanted=not buyer_email
        )
    logger.info(
        "payment recorded: invoice=%s amount=%s source=%s superseded=%s",
        invoice.pk,
        invoice.amount,
        source,
        superseded,
    )
    return recorded


def _test_note(payment: Payment) -> str:
    return _(
        "ТЕСТ: тестовая оплата %(amount)s ₽ по счёту №%(invoice)s (%(partner)s). Это не деньги: "
        "в оплаченное по сделке не засчитана."
    ) % {"amount": payment.amount, "invoice": payment.invoice_id, "partner": payment.partner.name}


def _payment_note(payment: Payment, deal: Deal) -> str:
    text = _(
        "Оплата %(amount)s ₽ получена: %(partner)s, счёт №%(invoice)s. Оплачено всего %(paid)s ₽ из %(total)s ₽."
    ) % {
        "amount": payment.amount,
        "partner": payment.partner.name,
        "invoice": payment.invoice_id,
        "paid": deal.paid,
        "total": deal.total,
    }
    if deal.remaining > ZERO:
        text += " " + _("Осталось оплатить %(rest)s ₽ — ссылка на полную оплату уже обновлена.") % {
            "rest": deal.remaining
        }
    if payment.superseded:
        text += " " + _(
            "Счёт №%(invoice)s был уже заменён новым (сумма или ссылка изменились)."
        ) % {"invoice": payment.invoice_id}
    if deal.overpaid_amount > ZERO:
        text += " " + _("Внимание: переплата %(over)s ₽.") % {"over": deal.overpaid_amount}
    if payment.refund_due > ZERO:
        text += " " + _("Вернуть покупателю: %(refund)s ₽.") % {"refund": payment.refund_due}
    return text
