"""Capability URLs out of logs and error reports.

Some addresses are themselves the credential: a payment link (/pay/<token>), the amoCRM webhook
(/integrations/amocrm/webhook/<per-account secret>/), one-time sign-in and e-mail verification
links (…/login/link/<token>/, …/verify-email/<token>/) and password-reset links
(…/password-reset/<uid>/<token>/). Whoever reads an access log or a Sentry event must not be able
to follow them, so the secret segment becomes `***` wherever such a path appears in text, and the
query string of a logged URL loses its values (one-time OAuth codes, signatures).

No Django here: gunicorn's logger class (deploy/gunicorn.conf.py) imports it before the app.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

# The secret segment of each capability path; matched anywhere in a text (a full URL, a log line).
# A route template's placeholder ("/pay/{token}", a transaction's name) is not a secret.
_SEGMENT = r"(?!\{)[^/?#\s\"'<>]+"
_CAPABILITY = re.compile(
    r"(?P<head>/pay/|/integrations/amocrm/webhook/|/login/link/|/verify-email/)"
    rf"(?P<secret>{_SEGMENT})"
    rf"|(?P<reset>/password-reset/)(?P<uid>{_SEGMENT})/(?P<token>{_SEGMENT})"
)
_RESET_STEPS = frozenset({"sent", "done"})


def _replace(match: re.Match[str]) -> str:
    if match["head"]:
        return f"{match['head']}{MASK}"
    if match["uid"] in _RESET_STEPS:
        return match[0]
    return f"{match['reset']}{MASK}/{MASK}"


def mask_capability_paths(text: str) -> str:
    """`text` with the secret segment of every capability path replaced by ***."""
    return _CAPABILITY.sub(_replace, text)


def mask_query(query: str) -> str:
    """A query string with every value replaced (names kept: they say what was asked)."""
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(name, MASK) for name, _ in pairs], safe="*")


def mask_url(url: str) -> str:
    """A URL or path safe to log: capability segments masked, query values masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return mask_capability_paths(url.split("?", 1)[0])
    return urlunsplit(
        (
            parts.scheme,
            parts.netloc,
            mask_capability_paths(parts.path),
            mask_query(parts.query),
            "",
        )
    )
