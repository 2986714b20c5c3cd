"""Robokassa constants (see shared/specs/robokassa.md; section numbers refer to it)."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Final

PAYMENT_URL: Final = "https://auth.robokassa.ru/Merchant/Index.aspx"
API_BASE_URL: Final = "https://auth.robokassa.ru"
FISCAL_BASE_URL: Final = "https://ws.roboxchange.com"
OP_STATE_EXT_PATH: Final = "/Merchant/WebService/Service.asmx/OpStateExt"
SECOND_RECEIPT_PATH: Final = "/RoboFiscal/Receipt/Attach"
REFUND_BASE_URL: Final = "https://services.robokassa.ru"
REFUND_CREATE_PATH: Final = "/RefundService/Refund/Create"
REFUND_STATE_PATH: Final = "/RefundService/Refund/GetState"
SECOND_RECEIPT_STATUS_PATH: Final = "/RoboFiscal/Receipt/Status"

XML_NAMESPACE: Final = "http://merchant.roboxchange.com/WebService/"

# Moscow has had a fixed UTC+3 offset since 2014; ExpirationDate is sent in it so that it is
# right even if Robokassa ignored the offset (§1.2: zone handling UNCERTAIN).
MOSCOW_TZ: Final = timezone(timedelta(hours=3), "MSK")

HASH_ALGORITHMS: Final = ("md5", "ripemd160", "sha1", "sha256", "sha384", "sha512")

# ProviderAccount.secrets keys
PASSWORD1: Final = "password1"
PASSWORD2: Final = "password2"
TEST_PASSWORD1: Final = "test_password1"
TEST_PASSWORD2: Final = "test_password2"
PASSWORD3: Final = "password3"  # the Refund API only (§8); issued on request by Robokassa

SHP_PREFIX: Final = "Shp_"
# Our own custom-field names: lowercase letters and digits only, so that ordinal,
# case-insensitive and culture-aware sorting agree (§2.3).
EXTRA_KEY_PATTERN: Final = r"[a-z0-9]+"
EXTRA_VALUE_PATTERN: Final = r"[A-Za-z0-9._-]*"

INVOICE_ID_MAX: Final = 2_147_483_647  # §1.2: stay within 2^31-1
DESCRIPTION_MAX_LENGTH: Final = 100
RECEIPT_ITEM_NAME_MAX_LENGTH: Final = 128
ENCODING: Final = "utf-8"

# §6 Result/Code of the XML interface
RESULT_OK: Final = "0"
RESULT_BAD_SIGNATURE: Final = "1"
RESULT_SHOP_NOT_FOUND: Final = "2"
RESULT_NO_OPERATION: Final = "3"
RESULT_DUPLICATE_OPERATION: Final = "4"
RESULT_INTERNAL_ERROR: Final = "1000"

# §3.1 the success answer for ResultURL is "OK" + InvId
ACK_PREFIX: Final = "OK"
ACK_CONTENT_TYPE: Final = "text/plain"
