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
from franchise_platform.accounts.models import Role
from franchise_platform.crm_sync.models import OutboxStatus
from franchise_platform.network.models import (
    HashAlgorithm,
    LegalForm,
    PrepaymentMode,
    TaxSystem,
    Vat,
)
from franchise_platform.network.services.partners import declared_label
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
    "robokassa.merchant_login": _("Идентификатор магазина"),
    "robokassa.password1": _("Пароль #1"),
    "robokassa.password2": _("Пароль #2"),
    "robokassa.test_password1": _("Тестовый пароль #1"),
    "robokassa.test_password2": _("Тестовый пароль #2"),
    "robokassa.password3": _("Пароль #3"),
    "robokassa.hash_algorithm": _("Алгоритм хеша"),
    "robokassa.test_mode": _("Тестовый режим"),
    "robokassa.fiscalization": _("Фискализация"),
    "provider": _("Платёжный провайдер"),
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
    "robokassa.hash_algorithm": HashAlgorithm,
    "prepayment_mode": PrepaymentMode,
    "status": OutboxStatus,
    "role": Role,
}


def _is_secret(field: str, value: Any) -> bool:
    return value == SECRET_MARK or "password" in field or "secret" in field


def _readable(field: str, value: Any) -> Any:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        return _("да") if value else _("нет")
    choices = CHOICES.get(field)
    if choices is not None and value in choices.values:
        return str(choices(value).label)
    return value


def _in_form_order(changes: dict[str, Any]) -> list[tuple[str, Any]]:
    # jsonb keeps no key order; show fields in the order the forms ask for them.
    order = {field: position for position, field in enumerate(FIELDS)}
    return sorted(changes.items(), key=lambda item: order.get(item[0], len(order)))


def _declared_label(field: str) -> str | None:
    """``<provider>.<name>`` of a provider's declared account field, in the current language."""
    slug, _dot, name = field.partition(".")
    if not name or slug not in registry.PROVIDERS:
        return None
    for spec in registry.get_provider_class(slug).account_fields:
        if spec.name == name:
            return declared_label(spec)
    if name in ("test_mode", "fiscalization"):
        return str(FIELDS[f"robokassa.{name}"])
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
