"""What a partner's YooKassa shop needs, declared so that the core can build its storage, API
schema, panel form and audit labels from it (issue 16, item 2). Pure data and a validator.

Two ways to connect (§1.2, §7): ``keys`` — the owner enters the shopId and a secret key from the
cabinet and pastes our notification URL there (§6.4); ``oauth`` — the owner grants our partner app
access, we keep the token and register the webhooks by API. The ``ProviderAccount`` the provider
gets: ``login`` = shopId, ``secrets`` = ``{"secret_key": …}`` or ``{"oauth_token": …}``,
``test_mode`` = the shop is a test shop (§8), ``fiscalization`` = receipts go through YooKassa.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

from billing_providers.base import AccountField, CabinetAddress, account_problems
from billing_providers.yookassa.consts import OAUTH_TOKEN, SECRET_KEY, WEBHOOK_EVENTS

ConnectionMode = Literal["keys", "oauth"]
CONNECTION_MODES: Final[tuple[ConnectionMode, ...]] = ("keys", "oauth")
CONNECTS_BY_OAUTH: Final = True
# The partners API's own object for a YooKassa shop (CONTRACT.md: `"yookassa": {...}`).
ACCOUNT_BLOCK: Final = "yookassa"


ACCOUNT_FIELDS: Final[tuple[AccountField, ...]] = (
    AccountField(
        name="shop_id",
        target="login",
        label_ru="Идентификатор магазина (shopId)",
        label_en="Shop ID (shopId)",
        help_ru="Личный кабинет ЮKassa → Интеграция → Ключи API.",
        help_en="YooKassa cabinet → Integration → API keys.",
        required=True,
        modes=("keys",),
        pattern=r"[0-9]{1,20}",
        max_length=20,
    ),
    AccountField(
        name=SECRET_KEY,
        target="secret",
        label_ru="Секретный ключ",
        label_en="Secret key",
        help_ru="Выпускается там же, в разделе «Ключи API». Хранится зашифрованным.",
        help_en="Issued in the same «API keys» section. Stored encrypted.",
        required=True,
        modes=("keys",),
        pattern=r"[A-Za-z0-9_\-]{8,128}",
        max_length=128,
    ),
    AccountField(
        name=OAUTH_TOKEN,
        target="secret",
        label_ru="OAuth-токен",
        label_en="OAuth token",
        help_ru="Появляется после подключения магазина через ЮKassa.",
        help_en="Set once the shop is connected through YooKassa.",
        required=True,
        modes=("oauth",),
        max_length=512,
        entered=False,
    ),
    AccountField(
        name="test_mode",
        target="flag",
        label_ru="Тестовый магазин",
        label_en="Test shop",
        help_ru="Платежи тестового магазина не считаются деньгами.",
        help_en="A test shop's payments are never counted as money.",
        required=False,
        modes=("keys", "oauth"),
    ),
    AccountField(
        name="fiscalization",
        target="flag",
        label_ru="Чеки через ЮKassa (54-ФЗ)",
        label_en="Receipts through YooKassa (54-FZ)",
        help_ru="Включите, если чеки формирует ЮKassa или подключённая к ней касса.",
        help_en="Turn on when YooKassa or a register connected to it issues the receipts.",
        required=False,
        modes=("keys", "oauth"),
    ),
)


CABINET_ADDRESSES: Final[tuple[CabinetAddress, ...]] = (
    CabinetAddress(
        name="notification_url",
        path="/callbacks/yookassa/{partner_id}/notification/",
        label_ru="URL для уведомлений",
        label_en="Notification URL",
        help_ru=(
            "Кабинет ЮKassa → Интеграция → HTTP-уведомления: вставьте адрес и отметьте события "
            + ", ".join(WEBHOOK_EVENTS)
            + ". При подключении через OAuth платформа регистрирует его сама."
        ),
        help_en=(
            "YooKassa cabinet → Integration → HTTP notifications: paste the address and tick "
            + ", ".join(WEBHOOK_EVENTS)
            + ". When connected by OAuth the platform registers it itself."
        ),
        modes=("keys",),
    ),
)


def validate_account(values: Mapping[str, str], mode: ConnectionMode) -> dict[str, str]:
    """Field name → problem (English; the core shows its own translated text) for the fields
    the owner enters in ``mode``. Empty when valid. Never raises."""
    return account_problems(ACCOUNT_FIELDS, values, mode)
