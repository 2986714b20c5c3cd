"""How audit entries read in the panel: actions and fields in words, secrets as «изменён».

The audit table already holds a mark instead of any secret value (security/audit.py); this module
also treats every field named like a password as secret, so even a mistaken entry never shows one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from billing_providers import registry
from billing_providers.base import AccountField
from franchise_platform.accounts.models import Role
from franchise_platform.crm_sync.models import OutboxStatus
from franchise_platform.network.models import (
    LegalForm,
    PrepaymentMode,
    TaxSystem,
    Vat,
)
from franchise_platform.network.services import declarations
from franchise_platform.security.audit import SECRET_MARK
from franchise_platform.security.models import AuditEntry

ACTIONS = {
    "partner.create": _("Добавлен партнёр"),
    "partner.update": _("Изменён партнёр"),
    "partner.delete": _("Удалён партнёр"),
    "location.create": _("Добавлена локация"),
    "location.update": _("Изменена локация"),
    "location.delete": _("Удалена локация"),
    "settings.update": _("Изменены настройки"),
    "api_token.create": _("Создан API-токен"),
    "api_token.revoke": _("Отозван API-токен"),
    "user.invite": _("Приглашён человек"),
    "totp.enable": _("Включён вход по коду"),
    "totp.disable": _("Выключен вход по коду"),
    "crm.field_map": _("Выбраны поля amoCRM"),
    "crm.outbox_retry": _("Повторена отправка в amoCRM"),
    "crm.outbox_retry_all": _("Повторена отправка в amoCRM всех недоставленных обновлений"),
    "crm.claim": _("Аккаунт amoCRM привязан по коду из виджета"),
    "network.crm": _("Выбрана CRM сети"),
    "crm.stage_map": _("Выбраны этапы воронки amoCRM"),
    "crm.location_source": _("Изменён источник локации сделки"),
    "refund.cabinet_recorded": _("Внесён возврат, сделанный в кабинете провайдера"),
    "royalty.rule": _("Изменено правило роялти"),
    "royalty.approve": _("Утверждена ведомость роялти"),
    "royalty.send": _("Ведомость роялти отправлена партнёру"),
}

FIELDS = {
    "stage.prepayment_paid": _("Этап: внесена предоплата"),
    "stage.fully_paid": _("Этап: оплачено полностью"),
    "stage.refunded": _("Этап: оформлен возврат"),
    "stage.settlement_failed": _("Этап: чек расчёта не пробит"),
    "location_from_pipeline": _("Локация из воронки"),
    "delivered_stages": _("Этапы «услуга оказана»"),
    "invoice": _("Счёт"),
    "amount": _("Сумма"),
    "legal_form": _("Форма"),
    "name": _("Название"),
    "inn": _("ИНН"),
    "ogrn": _("ОГРН"),
    "tax_system": _("Налогообложение"),
    "vat": _("НДС"),
    "active": _("В работе"),
    "address": _("Адрес"),
    "partner": _("Партнёр"),
    "user": _("Пользователь"),
    "role": _("Роль"),
    "id": "ID",
    "provider": _("Платёжный провайдер"),
    # A shop's settings, «<provider>.<field>», are labelled by the provider's declaration.
    "prepayment_mode": _("Режим предоплаты"),
    "prepayment_value": _("Размер предоплаты"),
    "invoice_ttl_hours": _("Срок жизни счёта, ч"),
    "item_name": _("Позиция в чеке"),
    "location_field_id": _("Поле «Локация»"),
    "prepayment_url_field_id": _("Поле «Ссылка на предоплату»"),
    "full_url_field_id": _("Поле «Ссылка на полную оплату»"),
    "paid_sum_field_id": _("Поле «Оплачено»"),
    "status_field_id": _("Поле «Статус оплаты»"),
    "status": _("Статус"),
    "kind": _("Что"),
    "revived": _("Снова в очереди"),
}


@dataclass(frozen=True)
class Change:
    label: str
    old: Any
    new: Any
    secret: bool


@dataclass(frozen=True)
class Row:
    entry: AuditEntry
    action: str
    changes: list[Change]


# Stored values are machine codes; people read the choices' labels.
CHOICES: dict[str, type[models.TextChoices]] = {
    "legal_form": LegalForm,
    "tax_system": TaxSystem,
    "vat": Vat,
    "prepayment_mode": PrepaymentMode,
    "status": OutboxStatus,
    "role": Role,
}


def _declared(field: str) -> tuple[int, AccountField] | None:
    """(position, spec) of ``<provider>.<name>``, a provider's declared account field."""
    slug, _dot, name = field.partition(".")
    if not name or slug not in registry.PROVIDERS:
        return None
    for position, spec in enumerate(declarations.declared_fields(slug)):
        # ``login``: the shop's id whatever the provider calls it (an OAuth connection's entry).
        if spec.name == name or (name == "login" and spec.target == "login"):
            return position, spec
    return None


def _is_secret(field: str, value: Any) -> bool:
    declared = _declared(field)
    if declared is not None and declared[1].secret:
        return True
    return value == SECRET_MARK or "password" in field or "secret" in field


def _readable(field: str, value: Any) -> Any:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        return _("да") if value else _("нет")
    choices = CHOICES.get(field)
    if choices is not None and value in choices.values:
        return str(choices(value).label)
    declared = _declared(field)
    if declared is not None and declared[1].choices:
        return dict(declared[1].choices).get(value, value)
    return value


def _in_form_order(changes: dict[str, Any]) -> list[tuple[str, Any]]:
    # jsonb keeps no key order; show fields in the order the forms ask for them.
    order = {field: float(position) for position, field in enumerate(FIELDS)}
    after_provider = order["provider"]

    def position(field: str) -> float:
        declared = _declared(field)
        if declared is not None:  # a shop's settings right after the provider, as declared
            return after_provider + (declared[0] + 1) / 1000
        return order.get(field, len(order))

    return sorted(changes.items(), key=lambda item: position(item[0]))


def _declared_label(field: str) -> str | None:
    """``<provider>.<name>`` of a provider's declared account field, in the current language."""
    declared = _declared(field)
    if declared is not None:
        return declarations.declared_label(declared[1])
    slug, _dot, name = field.partition(".")
    if slug in registry.PROVIDERS and name == "invoice_number_start":  # the core's own setting
        return str(_("Первый номер счёта"))
    return None


def entry_rows(entries: Iterable[AuditEntry]) -> list[Row]:
    rows = []
    for entry in entries:
        changes = []
        for field, value in _in_form_order(entry.changes or {}):
            label = str(FIELDS.get(field) or _declared_label(field) or field)
            if _is_secret(field, value):
                changes.append(Change(label, None, None, secret=True))
            elif isinstance(value, list) and len(value) == 2:
                changes.append(
                    Change(
                        label, _readable(field, value[0]), _readable(field, value[1]), secret=False
                    )
                )
        rows.append(Row(entry, str(ACTIONS.get(entry.action, entry.action)), changes))
    return rows
