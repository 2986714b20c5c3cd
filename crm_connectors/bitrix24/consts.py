"""Bitrix24 constants (see shared/specs/bitrix24.md)."""

from __future__ import annotations

import re

SLUG = "bitrix24"

# §1.1: the two OAuth servers. The token endpoint is derived from this list only, never from a
# ``server_endpoint`` a request names: a forged one would receive our client secret.
OAUTH_SERVERS = ("https://oauth.bitrix.info", "https://oauth.bitrix24.tech")
TOKEN_PATH = "/oauth/token/"

# §1.1: a portal is a 32-hex ``member_id``.
MEMBER_ID_RE = re.compile(r"^[0-9a-f]{32}$")
# A portal host: DNS labels, at least two, no port (§3.1 builds https://<portal>/rest/).
PORTAL_HOST_RE = re.compile(
    r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$"
)
# Opaque tokens (AUTH_ID, application_token): printable, bounded.
TOKEN_RE = re.compile(r"^[A-Za-z0-9._~+/=-]{8,512}$")

# §3.6: leaky bucket, all plans but Enterprise: drains 2/s, refuses above 50. We keep below it.
DEFAULT_DRAIN_PER_SECOND = 2.0
DEFAULT_BURST = 40
# §3.6: per (app, method) execution time in ten one-minute buckets; docs' example 480 s.
DEFAULT_OPERATING_LIMIT = 480.0
OPERATING_WINDOW_SECONDS = 600
# Stop calling a method once this share of the budget is used (the rest for interactive work).
OPERATING_STOP_SHARE = 0.9

# §3.5: fixed page size.
PAGE_SIZE = 50

# §4.1: a deal in the universal API.
DEAL_ENTITY_TYPE_ID = 2

# §4.4 value types used by the platform.
TYPE_ENUMERATION = "enumeration"
TYPE_URL = "url"
TYPE_MONEY = "money"
TYPE_STRING = "string"
# §4.4: FIELD_NAME is prefixed with UF_CRM_; keep full names within 20 characters.
UF_PREFIX = "UF_CRM_"
MAX_FIELD_NAME = 20

# §6.1 deal events → LeadEvent kinds.
EVENT_KINDS = {
    "ONCRMDEALADD": "lead_added",
    "ONCRMDEALUPDATE": "lead_updated",
    "ONCRMDEALDELETE": "lead_deleted",
    "ONCRMDEALMOVETOCATEGORY": "lead_status",
}
DEFAULT_EVENTS: tuple[str, ...] = ("ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALMOVETOCATEGORY")
APP_EVENTS = ("ONAPPINSTALL", "ONAPPUNINSTALL")

# §5.2: the deal card's own tab.
PLACEMENT_DEAL_TAB = "CRM_DEAL_DETAIL_TAB"
DEAL_PLACEMENTS = frozenset(
    {
        PLACEMENT_DEAL_TAB,
        "CRM_DEAL_DETAIL_ACTIVITY",
        "CRM_DEAL_DETAIL_TOOLBAR",
        "CRM_DEAL_LIST_MENU",
    }
)

# §3.3 error codes by what the caller does.
RATE_LIMIT_ERRORS = frozenset({"QUERY_LIMIT_EXCEEDED"})
OPERATING_LIMIT_ERRORS = frozenset({"OPERATION_TIME_LIMIT"})
EXPIRED_TOKEN_ERRORS = frozenset({"expired_token", "invalid_token"})
AUTH_ERRORS = frozenset({"NO_AUTH_FOUND", "invalid_grant", "invalid_client", "WRONG_AUTH_TYPE"})
REVOKED_ERRORS = frozenset(
    {
        "insufficient_scope",
        "INVALID_CREDENTIALS",
        "user_access_error",
        "PORTAL_DELETED",
        "OVERLOAD_LIMIT",
        "APPLICATION_NOT_FOUND",
    }
)
PAYMENT_ERRORS = frozenset({"PAYMENT_REQUIRED"})
NOT_FOUND_ERRORS = frozenset({"NOT_FOUND", "ERROR_NOT_FOUND", "OWNER_NOT_FOUND"})
NOT_FOUND_DESCRIPTIONS = frozenset({"not found", "element not found"})
ALREADY_BOUND_TEXT = "already binded"
