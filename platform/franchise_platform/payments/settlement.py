"""Settlement receipts (fiscal.md §2): once the service is delivered, every paid operation whose
first receipt was an advance gets its own second receipt (`full_payment`, that operation's
amount offset), through the provider's second-receipt API.

Each receipt is a row (`SettlementReceipt`, one per payment, so it is never sent twice). The
row is processed by a Celery task queued on commit, retried with backoff while the provider is
unreachable, polled until the cash register registered it, and re-queued by the sweeper when a
message is lost. The provider's `id` (the row's number) never changes between retries, and a
receipt whose send had no answer is asked about (Status) before it is sent again (§2.3).
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from billing_providers.base import ReceiptStatus, SettlementReceiptRequest
from billing_providers.errors import ProviderConfigError, ProviderError
from franchise_platform.network.rules import vat_problem

from .amounts import ZERO
from .models import (
    REFUND_HOLDING,
    Deal,
    Payment,
    SettlementReceipt,
    SettlementReceiptStatus,
)
from .providers import account_data, provider_get
from .tasks import settlement_receipt_task

logger = logging.getLogger(__name__)

# Waits between sends while the provider is unreachable; the last one repeats.
SEND_BACKOFF_SECONDS = (10, 60, 300, 1800, 3600)
MAX_SEND_ATTEMPTS = 8
# Registration checks after an accepted send (§2.3: 1, 5, 30 min, then hourly for 24 h); the
# first comes soon, since Robokassa usually registers within seconds.
POLL_SECONDS = (2, 60, 300, 1800, 3600)
POLL_FOR = timedelta(hours=24)
# A wake-up this much before a receipt's next step is a duplicate, not its turn.
EARLY_TOLERANCE = timedelta(seconds=2)
# A receipt queued or sent this long ago and still not registered needs a person's look.
STUCK_AFTER = timedelta(hours=1)
# A receipt without the buyer's e-mail or phone asks the lead's contact again: soon at first
# (a manager fixing the lead), then every few hours, and gives up after a week.
CONTACT_RECHECK = ((timedelta(hours=1), 600), (timedelta(days=1), 3600))
CONTACT_RECHECK_LATER_SECONDS = 6 * 3600
CONTACT_WAIT = timedelta(days=7)


def _offset(payment: Payment) -> Decimal:
    """What the operation still holds: its amount less what was (being) refunded. The offset
    can never exceed what that operation received (fiscal.md §1.3)."""
    refunded = payment.refunds.filter(status__in=REFUND_HOLDING).aggregate(s=Sum("amount"))["s"]
    return payment.amount - (refunded or ZERO)


def _first_receipt(payment: Payment) -> dict[str, str]:
    """The tax system and line name of the operation's own receipt, which the settlement must
    repeat (fiscal.md §2.1), read back by the provider that wrote it; empty when unreadable."""
    invoice = payment.invoice
    summary = provider_get(invoice.provider).receipt_summary(invoice.receipt_json or "")
    if summary is None:
        return {}
    return {"sno": summary.tax_system or "", "name": summary.item_name}


def settlement_receipts_queue(*, deal: Deal) -> list[SettlementReceipt]:
    """Create the missing settlement receipts of `deal` and queue them (on commit).

    Settled: every live, fiscalized payment whose receipt was an advance (not one paid at or
    after the service), not refunded as a whole. Call with the deal locked. Idempotent: a
    payment that has its receipt gets no other.
    """
    payments = (
        Payment.objects.filter(
            deal=deal, is_test=False, invoice__settles_service=False, settlement_receipt=None
        )
        .exclude(invoice__receipt_json="")
        .select_related("invoice", "partner")
        .order_by("paid_at")
    )
    # A payment recorded by reconciliation has no e-mail (OpStateExt carries none): the receipt
    # then goes where the deal's other receipts went, the same buyer's address (fiscal.md §7).
    deal_email = _deal_email(deal)
    created: list[SettlementReceipt] = []
    for payment in payments:
        amount = _offset(payment)
        if amount <= ZERO:
            continue
        first = _first_receipt(payment)
        partner = payment.partner
        created.append(
            SettlementReceipt.objects.create(
                payment=payment,
                deal=deal,
                amount=amount,
                tax_system=first.get("sno") or partner.tax_system,
                vat=partner.vat,
                item_name=(first.get("name") or deal.title or str(deal))[:128],
                email=payment.buyer_email or (deal_email if not payment.buyer_phone else ""),
                phone=payment.buyer_phone,
                next_attempt_at=timezone.now(),
            )
        )
    for receipt in created:
        _queue(receipt.pk, countdown=0)
    if created:
        logger.info("settlement receipts queued: deal=%s count=%s", deal.pk, len(created))
    return created


def _deal_email(deal: Deal) -> str:
    return (
        Payment.objects.filter(deal=deal, is_test=False)
        .exclude(buyer_email="")
        .order_by("paid_at")
        .values_list("buyer_email", flat=True)
        .first()
        # The e-mail the buyer gave on the pay page (payments/buyer_contact.py).
        or deal.buyer_email
    )


def _queue(receipt_id: int, *, countdown: float) -> None:
    # A receipt leaves for the tax service once this commits: the commit must be durable even where
    # the transaction began with asynchronous commit (applying a callback does, callbacks.py), or a
    # crash could forget a receipt already registered and the re-applied payment send another.
    if transaction.get_connection().in_atomic_block:
        with transaction.get_connection().cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO ON")

    def send() -> None:
        settlement_receipt_task.apply_async(args=[receipt_id], countdown=countdown)

    transaction.on_commit(send)


def _request(receipt: SettlementReceipt) -> SettlementReceiptRequest:
    return SettlementReceiptRequest(
        receipt_id=receipt.number,
        origin_invoice_id=receipt.payment.invoice_id,
        tax_system=receipt.tax_system,
        vat=receipt.vat,
        item_name=receipt.item_name,
        amount=receipt.amount,
        site_url=settings.PLATFORM_BASE_URL.rstrip("/") + "/",
        email=receipt.email or None,
        phone=receipt.phone or None,
    )


def _fail(receipt: SettlementReceipt, reason: str) -> None:
    receipt.status = SettlementReceiptStatus.FAILED
    receipt.error = reason[:500]
    receipt.next_attempt_at = None
    logger.warning("settlement receipt %s failed: %s", receipt.pk, reason[:200])


def _refusal(receipt: SettlementReceipt) -> str | None:
    """Why this receipt may not be sent at all, in Russian for the owner; None when it may."""
    if not (receipt.email or receipt.phone):
        return _("Нет e-mail или телефона покупателя: чек некуда отправить.")
    problem = vat_problem(tax_system=receipt.tax_system, vat=receipt.vat)
    if problem is not None:
        return str(problem.message)
    return None


def _accepted(receipt: SettlementReceipt, status: ReceiptStatus, fiscal: dict[str, str]) -> None:
    now = timezone.now()
    receipt.error = ""
    if receipt.sent_at is None:
        receipt.sent_at = now
    if status is ReceiptStatus.REGISTERED:
        receipt.status = SettlementReceiptStatus.REGISTERED
        receipt.registered_at = now
        receipt.fiscal = fiscal
        receipt.next_attempt_at = None
        return
    receipt.status = SettlementReceiptStatus.SENT
    polls = receipt.attempts  # every call counts; the schedule only needs to grow
    wait = POLL_SECONDS[min(polls, len(POLL_SECONDS)) - 1] if polls else POLL_SECONDS[0]
    receipt.next_attempt_at = now + timedelta(seconds=wait)


def settlement_receipt_due(*, receipt_id: int) -> SettlementReceipt | None:
    """In the caller's transaction: the receipt locked for one step, or None when there is
    nothing to do now (another worker holds it, it is final, or it is not due yet)."""
    receipt = (
        SettlementReceipt.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("payment__invoice__provider_account")
        .filter(pk=receipt_id)
        .first()
    )
    if receipt is None or receipt.status in (
        SettlementReceiptStatus.REGISTERED,
        SettlementReceiptStatus.FAILED,
    ):
        return None
    due = receipt.next_attempt_at
    if due is not None and due > timezone.now() + EARLY_TOLERANCE:
        return None  # a duplicate message: the step's own wake-up (or the sweeper) comes later
    return receipt


def settlement_receipt_needs_lead_contact(receipt: SettlementReceipt) -> bool:
    """The receipt waits for a contact the payment does not hold: the flow reads the lead's main
    contact into the payment (crm_sync) before the step."""
    payment = receipt.payment
    return (
        receipt.status == SettlementReceiptStatus.QUEUED
        and not (receipt.email or receipt.phone)
        and not (payment.buyer_email or payment.buyer_phone)
    )


def settlement_receipt_step(*, receipt: SettlementReceipt) -> bool:
    """Send, or check, one receipt returned by ``settlement_receipt_due``, in the same
    transaction. True when it failed now (the flow tells the lead's pipeline)."""
    _step(receipt)
    receipt.save()
    if receipt.next_attempt_at is not None:
        wait = max((receipt.next_attempt_at - timezone.now()).total_seconds(), 0)
        _queue(receipt.pk, countdown=wait)
    return receipt.status == SettlementReceiptStatus.FAILED


def _contact_found(receipt: SettlementReceipt) -> bool:
    """Where the receipt goes when it was queued without the buyer's contact: the payment's
    (filled in since, or from the lead's main contact by the flow), else the deal's other
    payments' e-mail."""
    payment = receipt.payment
    if not (payment.buyer_email or payment.buyer_phone):
        payment.refresh_from_db(fields=["buyer_email", "buyer_phone"])
    email = payment.buyer_email or (_deal_email(receipt.deal) if not payment.buyer_phone else "")
    if not (email or payment.buyer_phone):
        return False
    receipt.email, receipt.phone = email, payment.buyer_phone
    receipt.waiting_for_contact = False
    receipt.error = ""
    return True


def _wait_for_contact(receipt: SettlementReceipt) -> None:
    now = timezone.now()
    age = now - receipt.created_at
    if age > CONTACT_WAIT:
        receipt.waiting_for_contact = False
        _fail(receipt, _("Нет e-mail или телефона покупателя: чек некуда отправить."))
        return
    receipt.waiting_for_contact = True
    receipt.error = _(
        "Нет e-mail или телефона покупателя: чек ждёт. Добавьте в сделку amoCRM контакт "
        "с e-mail или телефоном — чек уйдёт сам."
    )
    wait = next((s for limit, s in CONTACT_RECHECK if age < limit), CONTACT_RECHECK_LATER_SECONDS)
    receipt.next_attempt_at = now + timedelta(seconds=wait)


def _step(receipt: SettlementReceipt) -> None:
    if (
        receipt.status == SettlementReceiptStatus.QUEUED
        and not (receipt.email or receipt.phone)
        and not _contact_found(receipt)
    ):
        _wait_for_contact(receipt)
        return
    account = receipt.payment.invoice.provider_account
    provider = provider_get(account.provider)
    data = account_data(account, test_mode=False)
    sent_before = receipt.status == SettlementReceiptStatus.SENT or receipt.attempts > 0
    receipt.attempts += 1
    if receipt.status == SettlementReceiptStatus.QUEUED:
        refusal = _refusal(receipt)
        if refusal is not None:
            _fail(receipt, refusal)
            return
    try:
        if sent_before and (receipt.provider_reference or not provider.issues_over_network):
            # A send may have landed without an answer: ask before sending again (§2.3).
            result = provider.fetch_settlement_receipt_state(data, receipt.number)
            if receipt.status == SettlementReceiptStatus.QUEUED and not result.accepted:
                result = provider.send_settlement_receipt(data, _request(receipt))
        else:
            # A provider that names the receipt itself is asked by that id only; without it (no
            # answer came) the send is repeated, which its idempotence key makes safe.
            result = provider.send_settlement_receipt(data, _request(receipt))
    except ProviderConfigError as exc:
        _fail(receipt, _("Провайдер не принял чек: %(reason)s") % {"reason": exc})
        return
    except ProviderError as exc:
        if exc.permanent and receipt.status == SettlementReceiptStatus.QUEUED:
            _fail(receipt, _("Провайдер не принял чек: %(reason)s") % {"reason": exc})
            return
        _later(receipt, str(exc))
        return
    if not result.accepted:
        _fail(
            receipt,
            result.description
            or _("Ошибка регистрации чека (код %(code)s).") % {"code": result.result_code},
        )
        return
    if result.operation_key and provider.uses_references:
        receipt.provider_reference = result.operation_key[:100]
    _accepted(receipt, result.status, dict(result.fiscal))
    if (
        receipt.status == SettlementReceiptStatus.SENT
        and receipt.sent_at is not None
        and timezone.now() - receipt.sent_at > POLL_FOR
    ):
        _fail(
            receipt, _("Чек принят, но не зарегистрирован за сутки: проверьте кабинет провайдера.")
        )


def _later(receipt: SettlementReceipt, reason: str) -> None:
    receipt.error = (_("Нет ответа от провайдера, повторим: %(reason)s") % {"reason": reason})[:500]
    if receipt.status == SettlementReceiptStatus.QUEUED and receipt.attempts >= MAX_SEND_ATTEMPTS:
        _fail(receipt, _("Провайдер не отвечает: чек не отправлен."))
        return
    if receipt.sent_at is not None and timezone.now() - receipt.sent_at > POLL_FOR:
        _fail(
            receipt, _("Чек принят, но не зарегистрирован за сутки: проверьте кабинет провайдера.")
        )
        return
    wait = SEND_BACKOFF_SECONDS[min(receipt.attempts, len(SEND_BACKOFF_SECONDS)) - 1]
    receipt.next_attempt_at = timezone.now() + timedelta(seconds=wait * random.uniform(1, 1.25))  # noqa: S311


def settlement_receipts_requeue() -> int:
    """The sweeper's part: receipts due for a step whose message was lost."""
    grace = timedelta(seconds=settings.SWEEP_GRACE_SECONDS)
    due = SettlementReceipt.objects.filter(
        status__in=(SettlementReceiptStatus.QUEUED, SettlementReceiptStatus.SENT),
        next_attempt_at__lt=timezone.now() - grace,
    ).values_list("pk", flat=True)[:500]
    count = 0
    for receipt_id in due:
        settlement_receipt_task.delay(receipt_id)
        count += 1
    return count
