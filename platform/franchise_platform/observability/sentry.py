"""Optional error reporting to Sentry, on when ``SENTRY_DSN`` is set.

``send_default_pii=False`` keeps cookies, users and IPs out; ``before_send`` then scrubs what is
left: values under secret-looking keys are replaced, every string goes through the same scrub as
the logs, log events and breadcrumbs keep their template without its arguments, and the command
line is masked; capability URLs (observability/masking.py) lose their secret segment and query
values in the request, messages and breadcrumbs. Request bodies are never attached (``max_request_body_size="never"``), local
variables are not sent (``include_local_variables=False``): a provider password held in a local
must not travel in a stack trace.
"""

from __future__ import annotations

import os
import re
from typing import Any

from franchise_platform.request_context import scrub

from .masking import mask_capability_paths, mask_url

_SECRET_KEY = re.compile(
    r"(?i)(pass(word)?\d?|passwd|secret|token|authorization|cookie|signature|api[_-]?key|"
    r"dsn|sessionid|csrf|credentials?|private)"
)
MASK = "[Filtered]"


def _clean(value: Any, depth: int = 0) -> Any:
    if depth > 20:
        return MASK
    if isinstance(value, str):
        # Capability URLs (payment links, the amoCRM webhook secret, one-time sign-in links)
        # wherever they appear: the request's URL, a message, an exception, a breadcrumb.
        return mask_capability_paths(scrub(value))
    if isinstance(value, dict):
        return {key: _clean_item(key, item, depth) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item, depth + 1) for item in value]
    return value


# Where an HTTP call's address travels (breadcrumbs, spans of a transaction): the URL keeps its
# shape with capability segments and query values masked; a query or fragment alone goes.
_URL_KEYS = frozenset({"url", "http.url"})
_QUERY_KEYS = frozenset({"http.query", "http.fragment", "query_string"})


def _clean_item(key: Any, item: Any, depth: int) -> Any:
    if not isinstance(key, str):
        return _clean(item, depth + 1)
    if _SECRET_KEY.search(key) or (key in _QUERY_KEYS and item):
        return MASK
    if key in _URL_KEYS and isinstance(item, str):
        return mask_url(item)
    return _clean(item, depth + 1)


def scrub_event(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sentry's before_send / before_send_transaction: the event with secrets masked."""
    # A log line's arguments travel apart from its template; a bare argument cannot be told
    # from a secret, so error reports keep the template only (the logs have the values).
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        logentry["params"] = []
        logentry.pop("formatted", None)
    # A command line can carry credentials (--broker redis://:pw@...); Sentry adds it by default.
    extra = event.get("extra")
    if isinstance(extra, dict) and "sys.argv" in extra:
        extra["sys.argv"] = MASK
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("data", None)
        request.pop("cookies", None)
        if isinstance(request.get("query_string"), str):
            request["query_string"] = MASK
        if isinstance(request.get("url"), str):
            request["url"] = mask_url(request["url"])
        headers = request.get("headers")
        if isinstance(headers, dict):
            for name in list(headers):
                if name.lower() == "referer" and isinstance(headers[name], str):
                    headers[name] = mask_url(headers[name])
    cleaned: dict[str, Any] = _clean(event)
    return cleaned


def scrub_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Log breadcrumbs carry the line's template, not its formatted arguments."""
    record = (hint or {}).get("log_record")
    if record is not None:
        crumb["message"] = str(getattr(record, "msg", ""))
    # An outgoing HTTP call's breadcrumb (httpx, requests): its URL and query can carry signatures.
    data = crumb.get("data")
    if isinstance(data, dict):
        if isinstance(data.get("url"), str):
            data["url"] = mask_url(data["url"])
        for key in ("http.query", "http.fragment"):
            if data.get(key):
                data[key] = MASK
    cleaned: dict[str, Any] = _clean(crumb)
    return cleaned


def sentry_init() -> bool:
    """Start the Sentry client when SENTRY_DSN is set; True when started."""
    dsn = os.environ.get("SENTRY_DSN", "").strip()
    if not dsn:
        return False
    # local: optional, loaded only when SENTRY_DSN is set
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=os.environ.get("SENTRY_ENVIRONMENT", "production"),
        release=os.environ.get("SENTRY_RELEASE") or None,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub_event,  # type: ignore[arg-type]
        before_send_transaction=scrub_event,  # type: ignore[arg-type]
        before_breadcrumb=scrub_breadcrumb,
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0") or 0),
    )
    return True
