"""What a partner's Robokassa shop needs, declared like YooKassa's (issue 16, item 2). Pure data.

Not yet the source of the core's Robokassa block: the network API's ``robokassa`` object, the
panel's Robokassa section and the shop's password columns predate the declaration and keep their
exact names (the contract only grows), and the hash algorithm is a choice, which ``AccountField``
does not describe yet. The declaration lists the same fields with the same names, so a move of
the core onto it is a rename-free change. ``login`` = ``merchant_login``; ``secrets``: the five
passwords (§1); ``test_mode``, ``fiscalization`` flags.
"""

from __future__ import annotations

from typing import Final

from billing_providers.base import AccountField, CabinetAddress

CONNECTS_BY_OAUTH: Final = False
HASH_ALGORITHMS: Final = ("md5", "ripemd160", "sha1", "sha256", "sha384", "sha512")


def _password(
    name: str, ru: str, en: str, *, required: bool, help_ru: str, help_en: str
) -> AccountField:
    return AccountField(
        name=name,
        target="secret",
        label_ru=ru,
        label_en=en,
        help_ru=help_ru,
        help_en=help_en,
        required=required,
        modes=("keys",),
        max_length=200,
    )


_TECHNICAL = "Кабинет Robokassa → «Мои магазины» → «Технические настройки»."
_TECHNICAL_EN = "Robokassa cabinet → «My shops» → «Technical settings»."

ACCOUNT_FIELDS: Final[tuple[AccountField, ...]] = (
    AccountField(
        name="merchant_login",
        target="login",
        label_ru="Идентификатор магазина",
        label_en="Shop identifier",
        help_ru="Не логин от кабинета, а «Идентификатор магазина» из его технических настроек.",
        help_en="Not the cabinet login but the «Shop identifier» of its technical settings.",
        required=True,
        modes=("keys",),
        pattern=r"\S{1,100}",
        max_length=100,
    ),
    _password(
        "password1",
        "Пароль #1",
        "Password #1",
        required=True,
        help_ru=_TECHNICAL,
        help_en=_TECHNICAL_EN,
    ),
    _password(
        "password2",
        "Пароль #2",
        "Password #2",
        required=True,
        help_ru=_TECHNICAL,
        help_en=_TECHNICAL_EN,
    ),
    _password(
        "test_password1",
        "Тестовый пароль #1",
        "Test password #1",
        required=False,
        help_ru="Блок «Параметры проведения тестовых платежей».",
        help_en="The «Test payment parameters» block.",
    ),
    _password(
        "test_password2",
        "Тестовый пароль #2",
        "Test password #2",
        required=False,
        help_ru="Блок «Параметры проведения тестовых платежей».",
        help_en="The «Test payment parameters» block.",
    ),
    _password(
        "password3",
        "Пароль #3 (для возвратов)",
        "Password #3 (refunds)",
        required=False,
        help_ru="Выдаёт поддержка Robokassa по запросу «Доступ к API возвратов».",
        help_en="Issued by Robokassa's support on request («Refund API access»).",
    ),
    AccountField(
        name="test_mode",
        target="flag",
        label_ru="Тестовый режим",
        label_en="Test mode",
        help_ru="Пробные оплаты без денег, с тестовыми паролями.",
        help_en="Trial payments without money, with the test passwords.",
        required=False,
        modes=("keys",),
    ),
    AccountField(
        name="fiscalization",
        target="flag",
        label_ru="Фискализация (чеки 54-ФЗ через Robokassa)",
        label_en="Fiscalization (54-FZ receipts through Robokassa)",
        help_ru="Чеки формирует Robokassa по позиции счёта.",
        help_en="Robokassa forms the receipts from the invoice's line.",
        required=False,
        modes=("keys",),
    ),
)

_HELP_RU = "Технические настройки магазина: вставьте в одноимённое поле."
_HELP_EN = "The shop's technical settings: paste into the field of the same name."

CABINET_ADDRESSES: Final[tuple[CabinetAddress, ...]] = (
    CabinetAddress(
        "result_url",
        "/callbacks/robokassa/{partner_id}/result/",
        "Result URL (POST)",
        "Result URL (POST)",
        _HELP_RU,
        _HELP_EN,
        ("keys",),
    ),
    CabinetAddress(
        "success_url",
        "/callbacks/robokassa/{partner_id}/success/",
        "Success URL (GET)",
        "Success URL (GET)",
        _HELP_RU,
        _HELP_EN,
        ("keys",),
    ),
    CabinetAddress(
        "fail_url",
        "/callbacks/robokassa/{partner_id}/fail/",
        "Fail URL (GET)",
        "Fail URL (GET)",
        _HELP_RU,
        _HELP_EN,
        ("keys",),
    ),
)
