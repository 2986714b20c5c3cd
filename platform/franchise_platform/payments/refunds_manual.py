"""A refund the partner made in the provider's own cabinet, recorded by hand (issue 15, item 3).

The provider tells nobody about such a refund. A full one is noticed by the paid-invoice watch
(OpStateExt State 60, refunds.py), but a partial one probably leaves the operation at State 100
(fiscal.md §5: UNCERTAIN, so the safest reading: the API cannot reveal it). An owner or admin
therefore records it: the same Refund row a platform refund ends as (finished, no call to the
provider), applied to the deal once: paid sum and status recomputed, links re-priced, the lead
updated once. The refund receipt is the partner's to decide, as for any refund made elsewhere.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.utils import timezone
from django.utils.translation import gettext as _

from franchise_platform.security.audit import audit_record

from .models import Deal, Payment, Refund, RefundReceipt, RefundSource, RefundStatus
from .refunds import (
    CONFIRM_WORD,
    RefundApplied,
    RefundRefused,
    payment_refundable,
    refund_amount_parse,
    refund_confirmation_ok,
    refund_take,
)

logger = logging.getLogger(__name__)

KEY_PREFIX = "cabinet:"


def refund_cabinet_check(*, amount: Decimal | str, confirm: str, user: Any) -> Decimal:
    """The amount to record for a refund made in the provider's cabinet. Owners and admins only,
    confirmed by typing the amount or «ВОЗВРАТ». Raises RefundRefused (Russian `detail`,
    `code`)."""
    if not getattr(user, "can_edit", False):
        raise RefundRefused(
            _("Возврат может внести только владелец или администратор сети."), "forbidden", 403
        )
    value = refund_amount_parse(amount)
    if not refund_confirmation_ok(typed=confirm, amount=value):
        raise RefundRefused(
            _("Возврат не внесён: для подтверждения введите сумму %(amount)s или слово «%(word)s».")
            % {"amount": value, "word": CONFIRM_WORD},
            "confirmation_required",
        )
    return value


def cabinet_key(form_key: str) -> str:
    return f"{KEY_PREFIX}{form_key[:64]}" if form_key else ""


def refund_cabinet_audit(*, refund: Refund, user: Any, ip_address: str | None) -> None:
    audit_record(
        actor=str(getattr(user, "email", "") or ""),
        action="refund.cabinet_recorded",
        obj=refund,
        changes={
            "amount": (None, str(refund.amount)),
            "invoice": (None, refund.payment.invoice_id),
        },
        ip_address=ip_address,
    )
    logger.info("cabinet refund recorded: %s of payment %s", refund.amount, refund.payment_id)


def refund_cabinet_take(
    *, payment_id: UUID | str, amount: Decimal, user: Any, key: str
) -> tuple[Refund, RefundApplied | None]:
    """In the caller's transaction: the refund (an earlier one for the same `key`: a double
    submit) and, when recorded now, what taking it into the deal changed. Raises RefundRefused
    (changes nothing then), IntegrityError when the same form raced itself."""
    if key:
        earlier = Refund.objects.filter(idempotency_key=key).select_related("payment").first()
        if earlier is not None:
            return earlier, None
    deal_id = Payment.objects.filter(pk=payment_id).values_list("deal_id", flat=True).first()
    if deal_id is None:
        raise RefundRefused(_("Платёж не найден."), "not_found", 404)
    # Lock order: deal, then payment (as every refund and payment does).
    Deal.objects.select_for_update().get(pk=deal_id)
    payment = Payment.objects.select_for_update(of=("self",)).get(pk=payment_id)
    if payment.is_test:
        raise RefundRefused(
            _("Это тестовая оплата: деньги не списывались, возвращать нечего."), "test_payment"
        )
    left = payment_refundable(payment)
    if amount > left:
        raise RefundRefused(
            _("Вернуть можно не больше %(left)s ₽ по этому платежу (оплачено %(paid)s ₽).")
            % {"left": left, "paid": payment.amount},
            "refund_exceeds_refundable",
        )
    refund = Refund.objects.create(
        payment=payment,
        deal_id=deal_id,
        amount=amount,
        status=RefundStatus.FINISHED,
        source=RefundSource.CABINET,
        receipt=RefundReceipt.MANUAL,
        idempotency_key=key,
        requested_by=str(getattr(user, "email", "") or "")[:254],
        finished_at=timezone.now(),
    )
    applied = refund_take(refund_id=refund.pk)
    refund.refresh_from_db()
    return refund, applied
