"""YooKassa constants (see shared/specs/yookassa.md; section numbers refer to it)."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

API_BASE_URL: Final = "https://api.yookassa.ru/v3"
OAUTH_BASE_URL: Final = "https://yookassa.ru/oauth/v2"

PAYMENTS_PATH: Final = "/payments"
REFUNDS_PATH: Final = "/refunds"
RECEIPTS_PATH: Final = "/receipts"
WEBHOOKS_PATH: Final = "/webhooks"
ME_PATH: Final = "/me"
OAUTH_AUTHORIZE_PATH: Final = "/authorize"
OAUTH_TOKEN_PATH: Final = "/token"
OAUTH_REVOKE_PATH: Final = "/revoke_token"

# ProviderAccount: ``login`` is the shopId; these are the ``secrets`` keys (§1.2). With an OAuth
# token the calls use Bearer auth (§7.2), otherwise Basic shopId:secret key.
SECRET_KEY: Final = "secret_key"
OAUTH_TOKEN: Final = "oauth_token"

CURRENCY: Final = "RUB"
IDEMPOTENCE_HEADER: Final = "Idempotence-Key"
IDEMPOTENCE_KEY_MAX_LENGTH: Final = 64  # §1.3
IDEMPOTENCE_KEY_PATTERN: Final = r"[0-9a-zA-Z+\-_.]{1,64}"

DESCRIPTION_MAX_LENGTH: Final = 128  # §2.1
REFUND_DESCRIPTION_MAX_LENGTH: Final = 250  # §5.1
METADATA_MAX_KEYS: Final = 16
METADATA_KEY_MAX_LENGTH: Final = 32
METADATA_VALUE_MAX_LENGTH: Final = 512
RETURN_URL_MAX_LENGTH: Final = 2048
RECEIPT_ITEM_NAME_MAX_LENGTH: Final = 128
# Our invoice id travels in the payment's (and the refund's) metadata (§10).
INVOICE_ID_KEY: Final = "invoice_id"
EXTRA_KEY_PATTERN: Final = r"[a-z0-9]{1,32}"
EXTRA_VALUE_PATTERN: Final = r"[A-Za-z0-9._-]{0,512}"
INVOICE_ID_MAX: Final = 2**63 - 1

LOCALES: Final = {"ru": "ru_RU", "en": "en_US"}

# A card/SBP/YooMoney payment stays payable for about an hour (§2.3), whatever our invoice says.
PENDING_LIFETIME: Final = timedelta(hours=1)

# §1.4: a 202 (or a 429/500) is repeated with the same key after ``retry_after`` milliseconds.
DEFAULT_RETRY_AFTER_MS: Final = 1800

# §6.2: the addresses notifications come from. Kept as an option of the provider.
NOTIFICATION_NETWORKS: Final = (
    "185.71.76.0/27",
    "185.71.77.0/27",
    "77.75.153.0/25",
    "77.75.156.11/32",
    "77.75.156.35/32",
    "77.75.154.128/25",
    "2a02:5180::/32",
)

# §6.1/§6.4: the events a partner app may subscribe to by API.
PAYMENT_EVENTS: Final = ("payment.succeeded", "payment.waiting_for_capture", "payment.canceled")
REFUND_EVENTS: Final = ("refund.succeeded",)
WEBHOOK_EVENTS: Final = (*PAYMENT_EVENTS, *REFUND_EVENTS)

# The notification as the core hands it to ``verify_callback``: the raw JSON body and the
# sender's address as seen by our trusted edge (never a client-supplied header).
BODY_PARAM: Final = "body"
REMOTE_ADDR_PARAM: Final = "remote_addr"

ACK_CONTENT_TYPE: Final = "text/plain"
