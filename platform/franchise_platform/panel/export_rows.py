"""The cells of the payments' and deals' exports, shared by the CSV and XLSX views
(panel/views/exports.py) and the background XLSX build (panel/export_jobs.py)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from franchise_platform.payments.models import Deal, Payment
from franchise_platform.security.spreadsheets import Money

PAYMENT_COLUMNS = (
    ("paid_at", gettext_lazy("Когда оплачен")),
    ("amount", gettext_lazy("Сумма, ₽")),
    ("currency", gettext_lazy("Валюта")),
    ("kind", gettext_lazy("Вид")),
    ("invoice_id", gettext_lazy("Счёт")),
    ("crm_deal_id", gettext_lazy("Сделка amoCRM")),
    ("deal_title", gettext_lazy("Название сделки")),
    ("partner", gettext_lazy("Партнёр")),
    ("partner_inn", gettext_lazy("ИНН партнёра")),
    ("location", gettext_lazy("Локация")),
    ("source", gettext_lazy("Источник")),
    ("is_test", gettext_lazy("Тестовый")),
    # «ТЕСТ» for a test payment (never money), what to refund for a superseded one.
    ("label", gettext_lazy("Отметка")),
)
DEAL_COLUMNS = (
    ("created_at", gettext_lazy("Создана")),
    ("crm_deal_id", gettext_lazy("Сделка amoCRM")),
    ("title", gettext_lazy("Название")),
    ("status", gettext_lazy("Статус")),
    ("total", gettext_lazy("Стоимость, ₽")),
    ("paid", gettext_lazy("Оплачено, ₽")),
    ("remaining", gettext_lazy("Осталось, ₽")),
    ("refunded", gettext_lazy("Возвращено, ₽")),
    ("overpaid", gettext_lazy("Переплата, ₽")),
    ("test_paid", gettext_lazy("Тестовые оплаты, ₽")),
    ("partner", gettext_lazy("Партнёр")),
    ("partner_inn", gettext_lazy("ИНН партнёра")),
    ("location", gettext_lazy("Локация")),
    ("service_date", gettext_lazy("Дата услуги")),
    ("delivered_at", gettext_lazy("Услуга оказана")),
)


def _payment_label(payment: Payment) -> str:
    if payment.is_test:
        return _("ТЕСТ")
    if payment.refund_due:
        return _("вернуть %(sum)s") % {"sum": f"{payment.refund_due:.2f}"}
    return ""


def payment_row(payment: Payment, *, typed: bool) -> list[object]:
    """One payment's cells: `typed` (XLSX) keeps numbers, money and times as such; otherwise the
    CSV's text forms."""
    deal = payment.deal
    paid_at = timezone.localtime(payment.paid_at)
    return [
        paid_at if typed else paid_at.isoformat(),
        Money(payment.amount) if typed else f"{payment.amount:.2f}",
        "RUB",
        payment.get_kind_display() if typed else payment.kind,
        payment.invoice_id,
        deal.crm_deal_id,
        deal.title,
        payment.partner.name,
        payment.partner.inn,
        deal.location.name if deal.location else "",
        payment.get_source_display() if typed else payment.source,
        (_("да") if payment.is_test else "") if typed else ("1" if payment.is_test else "0"),
        _payment_label(payment),
    ]


def deal_row(deal: Deal, *, typed: bool) -> list[object]:
    def money(value: Any) -> object:
        return Money(value) if typed else f"{value:.2f}"

    def moment(value: Any) -> object:
        if value is None:
            return None if typed else ""
        local = timezone.localtime(value)
        return local if typed else local.isoformat()

    return [
        moment(deal.created_at),
        deal.crm_deal_id,
        deal.title,
        deal.get_status_display() if typed else deal.status,
        money(deal.total),
        money(deal.paid),
        money(deal.remaining),
        money(deal.refunded),
        money(deal.overpaid_amount),
        money(deal.test_paid),
        deal.partner.name if deal.partner else "",
        deal.partner.inn if deal.partner else "",
        deal.location.name if deal.location else "",
        moment(deal.service_date),
        moment(deal.delivered_at),
    ]
