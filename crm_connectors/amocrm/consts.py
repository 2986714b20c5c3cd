"""amoCRM constants (see shared/specs/amocrm.md)."""

from __future__ import annotations

import re

SLUG = "amocrm"

OAUTH_CONSENT_URL = "https://www.amocrm.ru/oauth"
TOKEN_PATH = "/oauth2/access_token"

# Account hosts the OAuth ``referer`` may name (§0); anything else is refused so a forged
# callback cannot make us send the client secret to a host of its choosing.
ACCOUNT_HOST_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\.(?:amocrm\.ru|amocrm\.com|kommo\.com)$")
WIDGET_ISSUER_SUFFIXES = (".amocrm.ru", ".amocrm.com", ".kommo.com")

# §2.8: 7 requests per second.
DEFAULT_RATE_PER_SECOND = 7

# §2.6: page size limit.
MAX_PAGE_SIZE = 250

# Custom-field types used by the platform.
TYPE_SELECT = "select"
TYPE_URL = "url"
TYPE_NUMERIC = "numeric"
TYPE_TEXT = "text"

# §3.2 webhook actions → LeadEvent kinds. ``responsible`` and ``note`` do not touch what the
# platform reads (price, location), so they are dropped.
WEBHOOK_ACTION_KINDS = {
    "add": "lead_added",
    "update": "lead_updated",
    "status": "lead_status",
    "delete": "lead_deleted",
    "restore": "lead_updated",
}

# §3.1: confirmed event codes. ``delete_lead`` is only listed "by analogy" in the docs
# (UNCERTAIN), so it is not subscribed by default; pass it in ``webhook_events`` to opt in.
DEFAULT_WEBHOOK_EVENTS: tuple[str, ...] = ("add_lead", "update_lead", "status_lead")

NOTE_TYPE_COMMON = "common"
