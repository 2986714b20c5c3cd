"""What a partner's Robokassa shop needs, declared like YooKassa's (issue 16, item 2). Pure data.

The core builds Robokassa's partner block from it (the API's ``robokassa`` object, the panel's
Robokassa section, the audit labels, the addresses for the cabinet). The contract predates the
declaration, so the declaration keeps it exactly: the same field names, the shop's own password
and ``hash_algorithm`` columns (``column``), and the error codes and texts the API has always
answered (``messages``). ``login`` = ``merchant_login``; ``secrets``: the five passwords (§1);
``test_mode``, ``fiscalization`` flags; the hash algorithm a choice.
"""

from __future__ import annotations

from typing import Final

from billing_providers.base import AccountField, CabinetAddress, FieldMessage

CONNECTS_BY_OAUTH: Final = False
ACCOUNT_BLOCK: Final = "robokassa"
HASH_ALGORITHMS: Final = ("md5", "ripemd160", "sha1", "sha256", "sha384", "sha512")
_HASH_LABELS: Final = ("MD5", "RIPEMD-160", "SHA-1", "SHA-256", "SHA-384", "SHA-512")
PASSWORD_MAX: Final = 200

_TOO_LONG = FieldMessage(
    "too_long",
    "password_too_long",
    "Пароль длиннее 200 символов.",
    "The password is longer than 200 characters.",
)


def _password(
    name: str,
    ru: str,
    en: str,
    *,
    required: bool,
    help_ru: str,
    help_en: str,
    number: str = "",
) -> AccountField:
    messages: tuple[FieldMessage, ...] = (_TOO_LONG,)
    if required:
        messages += (
            FieldMessage(
                "required",
                "password_required",
                f"Укажите пароль #{number} магазина.",
                f"Enter the shop's password #{number}.",
            ),
        )
    return AccountField(
        name=name,
        target="secret",
        label_ru=ru,
        label_en=en,
        help_ru=help_ru,
        help_en=help_en,
        required=required,
        modes=("keys",),
        max_length=PASSWORD_MAX,
        column=name,  # the shop's own password columns, older than the declaration
        strip=False,  # a password is taken exactly as typed
        messages=messages,
    )


_TECHNICAL = "Кабинет Robokassa → «Мои магазины» → «Технические настройки»."
_TECHNICAL_EN = "Robokassa cabinet → «My shops» → «Technical settings»."
_TEST = "Блок «Параметры проведения тестовых платежей» технических настроек."
_TEST_EN = "The «Test payment parameters» block of the technical settings."
_BAD_LOGIN = (
    "Идентификатор магазина — одно слово до 100 символов.",
    "The shop identifier is one word of up to 100 characters.",
)

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
        messages=(
            FieldMessage(
                "required",
                "merchant_login_required",
                "Укажите идентификатор магазина Robokassa.",
                "Enter the Robokassa shop identifier.",
            ),
            FieldMessage("too_long", "invalid_merchant_login", *_BAD_LOGIN),
            FieldMessage("bad_format", "invalid_merchant_login", *_BAD_LOGIN),
        ),
    ),
    _password(
        "password1",
        "Пароль #1",
        "Password #1",
        required=True,
        help_ru=_TECHNICAL,
        help_en=_TECHNICAL_EN,
        number="1",
    ),
    _password(
        "password2",
        "Пароль #2",
        "Password #2",
        required=True,
        help_ru=_TECHNICAL,
        help_en=_TECHNICAL_EN,
        number="2",
    ),
    _password(
        "test_password1",
        "Тестовый пароль #1",
        "Test password #1",
        required=False,
        help_ru=_TEST,
        help_en=_TEST_EN,
    ),
    _password(
        "test_password2",
        "Тестовый пароль #2",
        "Test password #2",
        required=False,
        help_ru=_TEST,
        help_en=_TEST_EN,
    ),
    _password(
        "password3",
        "Пароль #3 (для возвратов)",
        "Password #3 (refunds)",
        required=False,
        help_ru="Выдаёт поддержка Robokassa по запросу «Доступ к API возвратов». Без него "
        "возвраты делаются только в кабинете Robokassa.",
        help_en="Issued by Robokassa's support on request («Refund API access»). Without it "
        "refunds are made in Robokassa's cabinet only.",
    ),
    AccountField(
        name="hash_algorithm",
        target="choice",
        label_ru="Алгоритм хеша",
        label_en="Hash algorithm",
        help_ru="Должен совпадать с выбранным в технических настройках магазина.",
        help_en="Must match the one chosen in the shop's technical settings.",
        required=False,
        modes=("keys",),
        choices=tuple(zip(HASH_ALGORITHMS, _HASH_LABELS, strict=True)),
        default="md5",
        column="hash_algorithm",
    ),
    AccountField(
        name="test_mode",
        target="flag",
        label_ru="Тестовый режим",
        label_en="Test mode",
        help_ru="Пробные оплаты без денег, с тестовыми паролями #1 и #2.",
        help_en="Trial payments without money, with test passwords #1 and #2.",
        required=False,
        modes=("keys",),
        requires=("test_password1", "test_password2"),
        messages=(
            FieldMessage(
                "requires",
                "test_passwords_required",
                "Для тестового режима укажите тестовые пароли #1 и #2.",
                "Test mode needs test passwords #1 and #2.",
            ),
        ),
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

_HELP_RU = "Технические настройки магазина: вставьте в одноимённое поле и выберите метод %s."
_HELP_EN = "The shop's technical settings: paste into the field of the same name, method %s."

CABINET_ADDRESSES: Final[tuple[CabinetAddress, ...]] = tuple(
    CabinetAddress(
        f"{name}_url",
        f"/callbacks/robokassa/{{partner_id}}/{name}/",
        label,
        label,
        _HELP_RU % method,
        _HELP_EN % method,
        ("keys",),
        method=method,
    )
    for name, label, method in (
        ("result", "Result URL", "POST"),
        ("success", "Success URL", "GET"),
        ("fail", "Fail URL", "GET"),
    )
)
