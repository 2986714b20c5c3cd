"""Refunds: money of one payment returned to the buyer (issue 15, items 3 and 4).

A refund is asked for by an owner or admin (panel or API) and sent to the provider's Refund API
(Robokassa: Password #3). Its amount is reserved on the payment's row lock before the provider is
called, so two requests, even at the same moment, can never return more than was paid. The
provider's state is then polled until final (tasks.refund_poll_task, with backoff; the sweeper
picks up a lost poll). Only a finished refund changes the deal: `paid` drops by the amount,
`refunded` grows, the status becomes `partially_refunded` or `refunded`, the full link is
re-priced (or every link closed); the flows in franchise_platform.flows.refund open the
transaction, call this module, and queue the lead's paid sum, status and one note through the
CRM outbox as payments do.

A refund made elsewhere (the provider's cabinet, a chargeback) is noticed by asking about paid
invoices for a while after payment (OpStateExt State 60, `flows.refund.paid_invoices_watch`) and
becomes the same record, once per operation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from billing_providers.base import InvoiceState as ProviderInvoiceState
from billing_providers.base import InvoiceStatus as ProviderStatus
from billing_providers.base import RefundItem, RefundRequest
from billing_providers.base import RefundState as ProviderRefundState
from billing_providers.base import RefundStatus as ProviderRefund
from billing_providers.errors import (
    ProviderConfigError,
    ProviderError,
    ProviderResponseError,
    ProviderUnavailable,
)

from .amounts import CENT, ZERO
from .links import deal_status_for, links_sync
from .models import (
    REFUND_HOLDING,
    Deal,
    Payment,
    Refund,
    RefundReceipt,
    RefundSource,
    RefundStatus,
)
from .providers import account_data, provider_get
from .tasks import refund_poll_task

logger = logging.getLogger(__name__)

CONFIRM_WORD = "ВОЗВРАТ"
# How long after payment paid invoices are asked about (a refund or chargeback made elsewhere),
# how many per run, how often each, and the pause between two calls (the provider's rate limit).
WATCH_DAYS = 30
WATCH_BATCH = 50
WATCH_EVERY_HOURS = 6
WATCH_PAUSE_MS = 200
# Polling a refund: 30 s, 1, 2, 4 … minutes, at most an hour apart.
POLL_FIRST_SECONDS = 30
POLL_MAX_SECONDS = 3600
# A refund still "pending" after this long was never sent or its answer was lost.
PENDING_STALE_SECONDS = 300


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


class RefundRefused(Exception):
    """The refund cannot be made as asked; `status` is the API's answer (422, 403, 409, 404)."""

    def __init__(self, detail: str, code: str, status: int = 422) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.status = status


@dataclass(frozen=True)
class RefundOutcome:
    refund: Refund
    created: bool  # False: the same idempotency key answered an earlier request


def refund_amount_parse(raw: object) -> Decimal:
    """A refund amount from the panel or the API: a positive sum in rubles with at most two
    decimals (a comma is read as the decimal point). Raises RefundRefused."""
    text = str(raw if raw is not None else "").strip().replace(" ", "").replace(",", ".")
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        value = Decimal("NaN")
    if value.is_finite() and value >= Decimal("1e10"):
        # Checked first: quantizing a huge exponent (1e400) overflows the context.
        raise RefundRefused(_("Сумма возврата слишком большая."), "invalid_amount")
    if not value.is_finite() or value <= ZERO or value != value.quantize(CENT):
        raise RefundRefused(
            _("Укажите сумму возврата в рублях, больше нуля, не больше двух знаков после точки."),
            "invalid_amount",
        )
    return value.quantize(CENT)


def refund_confirmation_ok(*, typed: str, amount: Decimal) -> bool:
    """The typed confirmation of the panel: the word «ВОЗВРАТ» or the amount itself."""
    text = (typed or "").strip()
    if text.upper() == CONFIRM_WORD:
        return True
    try:
        return refund_amount_parse(text) == amount
    except RefundRefused:
        return False


def payment_refundable(payment: Payment) -> Decimal:
    """What is left to return of `payment`: paid minus every refund that holds money of it."""
    held = payment.refunds.filter(status__in=REFUND_HOLDING).aggregate(s=Sum("amount"))["s"]
    return max(payment.amount - (held or ZERO), ZERO)


def _receipt_mode(payment: Payment) -> str:
    account = payment.invoice.provider_account
    return RefundReceipt.PROVIDER if account.fiscalization else RefundReceipt.NOT_REQUIRED


def refund_request(
    *,
    payment_id: UUID | str,
    amount: Decimal,
    user: Any,
    idempotency_key: str = "",
) -> RefundOutcome:
    """Ask the provider to return `amount` of a payment. Owners and admins only.

    The amount is reserved under the payment's row lock, then the provider is called outside the
    transaction. The same `idempotency_key` answers the same refund; with a different amount it
    is refused (409). Raises RefundRefused (Russian `detail`, `code`)."""
    if not getattr(user, "can_edit", False):
        raise RefundRefused(
            _("Возврат может сделать только владелец или администратор сети."), "forbidden", 403
        )
    amount = refund_amount_parse(amount)
    key = (idempotency_key or "").strip()
    if len(key) > 200:
        raise RefundRefused(_("Ключ идемпотентности длиннее 200 символов."), "invalid_key", 400)
    try:
        with transaction.atomic():
            outcome = _reserve(payment_id=payment_id, amount=amount, user=user, key=key)
    except IntegrityError:
        # Two requests with one key raced past the lookup; the loser answers as a replay.
        with transaction.atomic():
            outcome = _reserve(payment_id=payment_id, amount=amount, user=user, key=key)
    if outcome.created:
        refund_send(refund_id=outcome.refund.pk)
        outcome.refund.refresh_from_db()
    return outcome


def _replay(refund: Refund, amount: Decimal) -> RefundOutcome:
    if refund.amount != amount:
        raise RefundRefused(
            _(
                "С этим ключом идемпотентности уже запрошен возврат %(amount)s ₽; другая сумма "
                "с тем же ключом не принимается."
            )
            % {"amount": refund.amount},
            "idempotency_conflict",
            409,
        )
    return RefundOutcome(refund=refund, created=False)


def _reserve(*, payment_id: UUID | str, amount: Decimal, user: Any, key: str) -> RefundOutcome:
    if key:
        earlier = Refund.objects.filter(idempotency_key=key).first()
        if earlier is not None:
            if str(earlier.payment_id) != str(payment_id):
                raise RefundRefused(
                    _("Этот ключ идемпотентности уже использован для другого платежа."),
                    "idempotency_conflict",
                    409,
                )
            return _replay(earlier, amount)
    found = Payment.objects.filter(pk=payment_id).values_list("deal_id", flat=True).first()
    if found is None:
        raise RefundRefused(_("Платёж не найден."), "not_found", 404)
    # Lock order: deal, then payment (as payment_record locks deal, then invoice).
    Deal.objects.select_for_update().get(pk=found)
    payment = (
        Payment.objects.select_for_update(of=("self",))
        .select_related("invoice__provider_account", "deal")
        .get(pk=payment_id)
    )
    if key:
        earlier = Refund.objects.filter(idempotency_key=key).first()
        if earlier is not None:
            return _replay(earlier, amount)
    if payment.is_test:
        raise RefundRefused(
            _("Это тестовая оплата: деньги не списывались, возвращать нечего."), "test_payment"
        )
    account = payment.invoice.provider_account
    provider = provider_get(account.provider)
    if not provider.supports_refunds:
        raise RefundRefused(
            _("Провайдер магазина не умеет возвращать деньги через API."), "refunds_not_supported"
        )
    if provider.refund_secret and not getattr(account, provider.refund_secret, None):
        raise RefundRefused(
            _(
                "Для возвратов нужен Пароль #3 магазина Robokassa: получите его в поддержке "
                "Robokassa («Доступ к API возвратов») и укажите в настройках партнёра."
            ),
            "refund_password_missing",
        )
    if account.test_mode and not provider.refunds_in_test_mode:
        raise RefundRefused(
            _("Магазин в тестовом режиме: API возвратов не возвращает тестовые платежи."),
            "test_mode",
        )
    refundable = payment_refundable(payment)
    if amount > refundable:
        raise RefundRefused(
            _("Вернуть можно не больше %(left)s ₽ по этому платежу (оплачено %(paid)s ₽).")
            % {"left": refundable, "paid": payment.amount},
            "refund_exceeds_refundable",
        )
    refund = Refund.objects.create(
        payment=payment,
        deal=payment.deal,
        amount=amount,
        receipt=_receipt_mode(payment),
        idempotency_key=key,
        requested_by=str(getattr(user, "email", "") or "")[:254],
    )
    logger.info("refund reserved: %s of payment %s", amount, payment.pk)
    return RefundOutcome(refund=refund, created=True)


def _refund_items(refund: Refund, payment: Payment) -> tuple[RefundItem, ...]:
    """The refund receipt's position: the payment receipt's own (name, tax, method), for the
    refunded sum (fiscal.md §3: mirror the receipt being reversed), read back by the provider
    that wrote it."""
    if refund.receipt != RefundReceipt.PROVIDER:
        return ()
    invoice = payment.invoice
    summary = provider_get(invoice.provider).receipt_summary(invoice.receipt_json or "")
    return (
        RefundItem(
            name=(summary.item_name if summary else "") or payment.deal.title or _("Услуга"),
            amount=refund.amount,
            tax=summary.tax if summary else "none",
            payment_method=summary.payment_method if summary else "full_payment",
            payment_object=summary.payment_object if summary else "service",
        ),
    )


def _fail(refund_id: UUID | str, code: str, message: str) -> None:
    Refund.objects.filter(pk=refund_id, status=RefundStatus.PENDING).update(
        status=RefundStatus.FAILED, error=message[:300], finished_at=timezone.now()
    )
    logger.warning("refund %s refused: %s", refund_id, code)


def refund_send(*, refund_id: UUID | str) -> None:
    """Send a reserved refund to the provider: fetch the operation's key (and check it is still
    paid), then create the refund. A refusal releases the amount; no answer leaves the refund
    `unknown` (never re-sent: the provider has no idempotency key)."""
    refund = Refund.objects.select_related(
        "payment__invoice__provider_account", "payment__deal"
    ).get(pk=refund_id)
    if refund.status != RefundStatus.PENDING:
        return
    payment = refund.payment
    invoice = payment.invoice
    provider = provider_get(invoice.provider)
    account = account_data(invoice.provider_account, test_mode=invoice.is_test)
    try:
        state = provider.fetch_invoice_state(account, invoice.pk)
    except ProviderError as exc:
        _fail(refund.pk, exc.code, _("Не удалось узнать состояние платежа у провайдера."))
        return
    if state.status != ProviderStatus.PAID or not state.operation_key:
        _fail(
            refund.pk,
            "not_paid",
            _("Провайдер не подтверждает оплату этого платежа (состояние %(code)s).")
            % {"code": state.raw_code or state.status},
        )
        return
    # All of the operation with nothing returned before: Robokassa wants no RefundSum then.
    others = payment.refunds.exclude(pk=refund.pk).filter(status__in=REFUND_HOLDING)
    request = RefundRequest(
        operation_key=state.operation_key,
        amount=refund.amount,
        full=refund.amount == payment.amount and not others.exists(),
        items=_refund_items(refund, payment),
        # Our refund id: a provider with idempotent refunds returns the same refund on a repeat.
        idempotence_key=str(refund.pk),
        email=payment.buyer_email or None,
        phone=payment.buyer_phone or None,
        tax_system=payment.partner.tax_system,
        invoice_id=invoice.pk,
    )
    try:
        created = provider.refund_create(account, request)
    except ProviderUnavailable:
        Refund.objects.filter(pk=refund.pk, status=RefundStatus.PENDING).update(
            status=RefundStatus.UNKNOWN,
            error=_("Провайдер не ответил: проверьте возврат в личном кабинете, не повторяйте.")[
                :300
            ],
        )
        logger.warning("refund %s: no answer from the provider", refund.pk)
        return
    except ProviderConfigError as exc:
        message = (
            _("Провайдер не принял Пароль #3 или он не задан.")
            if exc.code == "missing_secret"
            else _("Провайдер не может выполнить этот возврат (%(code)s).") % {"code": exc.code}
        )
        _fail(refund.pk, exc.code, message)
        return
    except ProviderResponseError as exc:
        _fail(
            refund.pk,
            exc.code,
            _("Провайдер отклонил возврат: %(reason)s") % {"reason": exc.message},
        )
        return
    Refund.objects.filter(pk=refund.pk, status=RefundStatus.PENDING).update(
        status=RefundStatus.PROCESSING,
        provider_request_id=created.request_id,
        next_check_at=timezone.now() + timedelta(seconds=_poll_delay(1)),
    )
    _queue_poll(refund.pk, countdown=1)
    logger.info("refund %s accepted by the provider", refund.pk)


def _queue_poll(refund_id: UUID | str, *, countdown: float) -> None:
    transaction.on_commit(
        lambda: refund_poll_task.apply_async((str(refund_id),), countdown=countdown)
    )


def _poll_delay(attempts: int) -> int:
    first = _setting("REFUND_POLL_FIRST_SECONDS", POLL_FIRST_SECONDS)
    return int(min(first * 2 ** max(attempts - 1, 0), POLL_MAX_SECONDS))


def refund_processing_get(*, refund_id: str) -> Refund | None:
    """The refund to poll, or None when it is no longer processing."""
    return (
        Refund.objects.select_related("payment__invoice__provider_account")
        .filter(pk=refund_id, status=RefundStatus.PROCESSING)
        .first()
    )


def refund_state_fetch(*, refund: Refund) -> ProviderRefundState | None:
    """Ask the provider about one processing refund (a network call: outside any transaction);
    None when the state is unknown (poll again later)."""
    invoice = refund.payment.invoice
    provider = provider_get(invoice.provider)
    try:
        return provider.refund_state(
            account_data(invoice.provider_account), refund.provider_request_id
        )
    except ProviderError as exc:
        logger.warning("refund %s: state unknown (%s)", refund.pk, exc.code)
        return None


def refund_poll_settle(*, refund: Refund, state: ProviderRefundState | None) -> str:
    """In the caller's transaction, for a refund not finished at the provider: release it when
    cancelled, otherwise poll again later (backoff). Returns the new status."""
    if state is not None and state.status == ProviderRefund.CANCELED:
        Refund.objects.filter(pk=refund.pk, status=RefundStatus.PROCESSING).update(
            status=RefundStatus.CANCELED,
            error=_("Возврат отменён у провайдера."),
            finished_at=timezone.now(),
        )
        return RefundStatus.CANCELED
    attempts = refund.attempts + 1
    delay = _poll_delay(attempts)
    Refund.objects.filter(pk=refund.pk).update(
        attempts=attempts, next_check_at=timezone.now() + timedelta(seconds=delay)
    )
    _queue_poll(refund.pk, countdown=delay)
    return RefundStatus.PROCESSING


@dataclass(frozen=True)
class RefundApplied:
    """What ``refund_take`` changed, for the flow to tell the CRM."""

    refund: Refund
    deal: Deal
    # The note for the lead («Возврат … выполнен»).
    note: str


def refund_take(*, refund_id: UUID | str) -> RefundApplied | None:
    """Take a finished refund into the deal, exactly once, in the caller's transaction: paid and
    refunded sums, status, the overpayment still due, the links. What changed if applied now
    (the flow queues the lead's paid sum, status and one note from it), else None."""
    with transaction.atomic(savepoint=False):
        deal_id = Refund.objects.filter(pk=refund_id).values_list("deal_id", flat=True).first()
        if deal_id is None:
            return None
        deal = Deal.objects.select_for_update().get(pk=deal_id)
        refund = (
            Refund.objects.select_for_update(of=("self",))
            .select_related("payment__partner")
            .get(pk=refund_id)
        )
        if refund.applied:
            return None
        refund.status = RefundStatus.FINISHED
        refund.finished_at = refund.finished_at or timezone.now()
        refund.applied = True
        if refund.receipt == RefundReceipt.PROVIDER:
            refund.receipt = RefundReceipt.ISSUED
        refund.save(update_fields=["status", "finished_at", "applied", "receipt"])
        payment = Payment.objects.select_for_update(of=("self",)).get(pk=refund.payment_id)
        if payment.refund_due > ZERO:
            payment.refund_due = max(payment.refund_due - refund.amount, ZERO)
            payment.save(update_fields=["refund_due"])
        deal.paid = max(deal.paid - refund.amount, ZERO)
        deal.refunded = deal.refunded + refund.amount
        deal.status = deal_status_for(total=deal.total, paid=deal.paid, refunded=deal.refunded)
        deal.overpaid_amount = max(deal.paid - deal.total, ZERO)
        deal.save(update_fields=["paid", "refunded", "status", "overpaid_amount", "updated_at"])
        links_sync(deal)
        applied = RefundApplied(refund=refund, deal=deal, note=_refund_note(refund, deal))
    logger.info("refund applied: %s of deal %s", refund.amount, deal.pk)
    return applied


def _refund_note(refund: Refund, deal: Deal) -> str:
    if refund.source == RefundSource.PROVIDER:
        text = _(
            "Возврат (не платформой): провайдер сообщает, что оплата %(amount)s ₽ по счёту "
            "№%(invoice)s возвращена покупателю (кабинет магазина или оспаривание платежа). "
            "Проверьте, нужен ли чек возврата."
        ) % {"amount": refund.amount, "invoice": refund.payment.invoice_id}
    elif refund.source == RefundSource.CABINET:
        text = _(
            "Возврат %(amount)s ₽ по счёту №%(invoice)s сделан в личном кабинете провайдера "
            "(внесён в платформу: %(who)s). Проверьте, нужен ли чек возврата."
        ) % {
            "amount": refund.amount,
            "invoice": refund.payment.invoice_id,
            "who": refund.requested_by or "—",
        }
    else:
        text = _("Возврат %(amount)s ₽ по счёту №%(invoice)s выполнен (%(partner)s).") % {
            "amount": refund.amount,
            "invoice": refund.payment.invoice_id,
            "partner": refund.payment.partner.name,
        }
    text += " " + _("Оплачено теперь %(paid)s ₽ из %(total)s ₽, возвращено %(refunded)s ₽.") % {
        "paid": deal.paid,
        "total": deal.total,
        "refunded": deal.refunded,
    }
    return text


# --- refunds made elsewhere (item 4) ----------------------------------------------------------


def payments_to_watch(*, now: Any = None, limit: int | None = None) -> list[Payment]:
    """Live payments of the last WATCH_DAYS whose invoice was not asked about lately."""
    now = now or timezone.now()
    days = _setting("REFUND_WATCH_DAYS", WATCH_DAYS)
    every = timedelta(hours=_setting("REFUND_WATCH_EVERY_HOURS", WATCH_EVERY_HOURS))
    return list(
        Payment.objects.filter(is_test=False, paid_at__gt=now - timedelta(days=days))
        .exclude(invoice__last_checked_at__gt=now - every)
        .exclude(refunds__source=RefundSource.PROVIDER)
        .select_related("invoice__provider_account", "deal", "partner")
        .order_by("invoice__last_checked_at", "paid_at")[
            : limit or _setting("REFUND_WATCH_BATCH", WATCH_BATCH)
        ]
    )


def payment_refund_state(*, payment: Payment) -> ProviderInvoiceState | None:
    """Ask the provider about one paid invoice (a network call: outside any transaction); its
    state when the provider says the money went back (State 60), else None."""
    invoice = payment.invoice
    provider = provider_get(invoice.provider)
    try:
        state = provider.fetch_invoice_state(account_data(invoice.provider_account), invoice.pk)
    except ProviderError as exc:
        logger.warning("refund watch of invoice %s failed: %s", invoice.pk, exc.code)
        return None
    finally:
        type(invoice).objects.filter(pk=invoice.pk).update(last_checked_at=timezone.now())
    if state.status == ProviderStatus.SUSPENDED:
        logger.warning("refund watch: invoice %s suspended at the provider (State 80)", invoice.pk)
    if state.status != ProviderStatus.REFUNDED:
        return None
    return state


def payment_refund_record(*, payment: Payment, state: ProviderInvoiceState) -> Refund | None:
    """In the caller's transaction: a money return not explained by our own refunds becomes a
    finished refund of what was left (the caller takes it into the deal), once per operation:
    IntegrityError when another run recorded it first. None when our refunds account for it."""
    Deal.objects.select_for_update().get(pk=payment.deal_id)
    locked = Payment.objects.select_for_update(of=("self",)).get(pk=payment.pk)
    left = payment_refundable(locked)
    if left <= ZERO:
        return None  # our own refunds account for it
    return Refund.objects.create(
        payment=locked,
        deal_id=locked.deal_id,
        amount=left,
        status=RefundStatus.FINISHED,
        source=RefundSource.PROVIDER,
        receipt=RefundReceipt.MANUAL,
        finished_at=state.state_date or timezone.now(),
    )


def watch_pause_seconds() -> float:
    """The pause between two refund-watch calls (the provider's rate limit)."""
    return float(_setting("REFUND_WATCH_PAUSE_MS", WATCH_PAUSE_MS)) / 1000


def refunds_requeue() -> int:
    """The sweeper's part: re-queue polls that are overdue (a lost task) and give up on refunds
    left pending (the request's process died between reserving and sending)."""
    now = timezone.now()
    grace = timedelta(seconds=_setting("SWEEP_GRACE_SECONDS", 60))
    stale = timedelta(seconds=PENDING_STALE_SECONDS)
    Refund.objects.filter(status=RefundStatus.PENDING, created_at__lt=now - stale).update(
        status=RefundStatus.UNKNOWN,
        error=_("Возврат не был отправлен до конца: проверьте его в личном кабинете провайдера."),
    )
    overdue = Refund.objects.filter(
        status=RefundStatus.PROCESSING, next_check_at__lt=now - grace
    ).values_list("pk", flat=True)[:200]
    count = 0
    for refund_id in overdue:
        refund_poll_task.delay(str(refund_id))
        count += 1
    return count
