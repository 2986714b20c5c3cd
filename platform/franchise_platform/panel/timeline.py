"""A deal's history in words: one chronological feed over its links, invoices, provider
notifications, payments and CRM messages, and refusal codes as an owner reads them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils.formats import number_format
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from franchise_platform.crm_sync.models import OutboxKind, OutboxStatus
from franchise_platform.payments.models import (
    CallbackEvent,
    LinkKind,
    PaymentKind,
    SettlementReceiptStatus,
)
from franchise_platform.payments.selectors import DealHistory

# The codes the callback inbox stores (billing_providers' verdicts and the inbox's own).
CALLBACK_REASONS: dict[str, Promise] = {
    "bad_signature": gettext_lazy(
        "Подпись не сходится: проверьте Пароль #2 (тестовый — для тестовых платежей) и алгоритм хеша."
    ),
    "amount_mismatch": gettext_lazy("Сумма в уведомлении не совпадает с суммой счёта."),
    "unexpected_test": gettext_lazy("Тестовое уведомление, а магазин работает в боевом режиме."),
    "not_configured": gettext_lazy("У магазина не заданы пароли для проверки подписи."),
    "missing_field": gettext_lazy("В уведомлении не хватает обязательных полей."),
    "bad_invoice_id": gettext_lazy("Неверный номер счёта (InvId)."),
    "bad_amount": gettext_lazy("Неверная сумма (OutSum)."),
    "unknown_shop": gettext_lazy("Магазин не найден в сети: уведомление пришло не по адресу."),
    "unknown_invoice": gettext_lazy("У этого магазина нет счёта с таким номером."),
    "foreign_operation": gettext_lazy(
        "Операция с этим номером есть в магазине, но её выставила не платформа (нет метки счёта): "
        "она не засчитана как оплата."
    ),
}


def money(value: Decimal) -> str:
    """1 500,00 ₽ in Russian, 1,500.00 ₽ in English."""
    return f"{number_format(value, 2, force_grouping=True)} ₽"


def callback_reason(event: CallbackEvent) -> str:
    """Why a notification was refused, in the owner's language; empty for an accepted one."""
    if event.accepted:
        return ""
    known = CALLBACK_REASONS.get(event.reason_code)
    return str(known) if known is not None else event.reason or event.reason_code


@dataclass(frozen=True)
class Event:
    at: datetime
    tone: str  # success | danger | warning | info | muted: the dot's colour
    title: str
    detail: str = ""


def _link_name(kind: str) -> str:
    return _("предоплата") if kind == LinkKind.PREPAYMENT else _("полная оплата")


def timeline_events(history: DealHistory, crm_title: str = "amoCRM") -> list[Event]:
    events: list[Event] = []
    for link in history.links:
        events.append(
            Event(link.created_at, "muted", _("Создана ссылка: %s") % _link_name(link.kind))
        )
    for invoice in history.invoices:
        events.append(
            Event(
                invoice.created_at,
                "info",
                _("Выставлен счёт №%(id)s на %(amount)s")
                % {"id": invoice.pk, "amount": money(invoice.amount)},
                _("тестовый") if invoice.is_test else "",
            )
        )
    for row in history.callbacks:
        event = row.event
        if event.accepted:
            events.append(
                Event(
                    event.received_at,
                    "success",
                    _("Robokassa подтвердила оплату счёта №%s") % event.invoice_number,
                )
            )
        else:
            events.append(
                Event(
                    event.received_at,
                    "danger",
                    _("Уведомление по счёту №%s отклонено") % event.invoice_number,
                    callback_reason(event),
                )
            )
    for payment in history.payments:
        if payment.is_test:
            # Never money: said as plainly as the real thing would be.
            events.append(
                Event(
                    payment.paid_at,
                    "warning",
                    _("ТЕСТ: тестовая оплата %(amount)s, в оплаченное не засчитана")
                    % {"amount": money(payment.amount)},
                    str(PaymentKind(payment.kind).label),
                )
            )
            continue
        detail = [str(PaymentKind(payment.kind).label)]
        if payment.superseded:
            detail.append(_("счёт был уже заменён новым"))
        if payment.refund_due:
            detail.append(_("вернуть покупателю %(sum)s") % {"sum": money(payment.refund_due)})
        events.append(
            Event(
                payment.paid_at,
                "warning" if payment.refund_due else "success",
                _("Получена оплата %(amount)s") % {"amount": money(payment.amount)},
                "; ".join(detail),
            )
        )
    for message in history.outbox:
        named = {"crm": crm_title, "kind": str(OutboxKind(message.kind).label)}
        if message.status == OutboxStatus.SENT and message.sent_at:
            events.append(
                Event(message.sent_at, "muted", _("%(crm)s: %(kind)s — отправлено") % named)
            )
        elif message.status == OutboxStatus.DEAD:
            events.append(
                Event(
                    message.created_at,
                    "danger",
                    _("%(crm)s: %(kind)s — не доставлено") % named,
                    message.last_error,
                )
            )
        else:
            events.append(
                Event(message.created_at, "warning", _("%(crm)s: %(kind)s — в очереди") % named)
            )
    events.extend(_delivery_events(history, crm_title))
    return sorted(events, key=lambda e: e.at)


DELIVERY_SOURCES: dict[str, Promise] = {
    "crm_stage": gettext_lazy("сделка перешла в этап «услуга оказана» в amoCRM"),
    "panel": gettext_lazy("отмечено в панели"),
    "widget": gettext_lazy("отмечено в виджете amoCRM"),
    "api": gettext_lazy("отмечено через API"),
}


# The same sources in the words of a CRM other than amoCRM (its deal tab, not a widget).
OTHER_CRM_DELIVERY_SOURCES: dict[str, Promise] = {
    "crm_stage": gettext_lazy("сделка перешла в этап «услуга оказана» в %(crm)s"),
    "widget": gettext_lazy("отмечено во вкладке сделки %(crm)s"),
}


def _delivery_events(history: DealHistory, crm_title: str = "amoCRM") -> list[Event]:
    """The delivery and every settlement receipt with where it stands (fiscal.md §2)."""
    events: list[Event] = []
    if history.delivered_at is not None:
        source: Promise | str | None = DELIVERY_SOURCES.get(history.delivered_source)
        other = OTHER_CRM_DELIVERY_SOURCES.get(history.delivered_source)
        if crm_title != "amoCRM" and other is not None:
            source = str(other) % {"crm": crm_title}
        events.append(
            Event(
                history.delivered_at,
                "success",
                _("Услуга оказана"),
                str(source) if source is not None else "",
            )
        )
    for receipt in history.settlement_receipts:
        title = _("Итоговый чек по счёту №%(id)s на %(amount)s: %(status)s") % {
            "id": receipt.payment.invoice_id,
            "amount": money(receipt.amount),
            "status": str(SettlementReceiptStatus(receipt.status).label).lower(),
        }
        tone = {
            SettlementReceiptStatus.REGISTERED: "success",
            SettlementReceiptStatus.FAILED: "danger",
        }.get(SettlementReceiptStatus(receipt.status), "warning")
        moment = receipt.registered_at or receipt.sent_at or receipt.created_at
        events.append(Event(moment, tone, title, receipt.error))
    return events
