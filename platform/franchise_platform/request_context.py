"""Request id and network slug on every log line, JSON logs, a last-line scrub of secrets, and the
client address as seen through the configured proxies."""

from __future__ import annotations

import contextvars
import ipaddress
import json
import logging
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from django.conf import settings
from django.core.signals import request_finished
from django.db import connection
from django.http import HttpRequest, HttpResponse

from .observability.masking import mask_capability_paths

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# Defence in depth: values that look like credentials are masked even if a caller slips.
_SECRET_PATTERN = re.compile(
    r"(?i)(password\d?|passwd|secret|token|authorization|signaturevalue)(['\"]?\s*[:=]\s*['\"]?)([^\s'\",&]+)"
)


def scrub(text: str) -> str:
    # Capability URLs too: Django's own lines name the path ("Not Found: /pay/<token>").
    return mask_capability_paths(
        _SECRET_PATTERN.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    )


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if re.fullmatch(r"[A-Za-z0-9._-]{8,64}", incoming) else uuid.uuid4().hex
        # Kept until the response is closed (request_finished below), so Django's own 4xx/5xx
        # lines, written after the middleware chain has returned, carry the id too.
        request_id_var.set(rid)
        client_ip(request)  # resolved here, once, before any view reads it
        response = self.get_response(request)
        response["X-Request-ID"] = rid
        return response


def _request_done(**_: object) -> None:
    request_id_var.set("-")


request_finished.connect(_request_done, dispatch_uid="request_context_done")


_CLIENT_IP_ATTR = "_client_ip"
# When no hop names a usable address (a misconfigured proxy): one shared, valid bucket, never a
# value an audit entry's address field would refuse.
UNKNOWN_IP = "0.0.0.0"  # noqa: S104 - an address recorded, never one bound to


def _parse_ip(raw: str) -> str | None:
    """`raw` as an address in canonical text, or None. Accepts what proxies write: an IPv6 address in
    brackets, a port after either kind, an IPv4 address mapped into IPv6 (given as IPv4)."""
    text = raw.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4 with a port; a bare IPv6 address has several colons
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def _resolve_client_ip(request: HttpRequest) -> str:
    remote = _parse_ip(str(request.META.get("REMOTE_ADDR") or ""))
    hops = int(getattr(settings, "CLIENT_IP_PROXY_HOPS", 0))
    if hops <= 0:
        return remote or UNKNOWN_IP
    chain = [p for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
    if not chain:
        # Nobody forwarded the request: the peer is the client (a probe inside the cluster).
        return remote or UNKNOWN_IP
    # Our nearest proxy appended the address it saw, the next one the address it saw, and so on:
    # the client is `hops` entries from the right. Anything further left was written by the
    # client itself and proves nothing. With fewer entries than hops the request came past fewer
    # proxies than configured; the leftmost entry is then the furthest one a proxy recorded.
    start = max(len(chain) - hops, 0)
    for entry in chain[start:]:  # from the client's entry towards our proxy: first usable one
        parsed = _parse_ip(entry)
        if parsed is not None:
            return parsed
    return remote or UNKNOWN_IP


def client_ip(request: HttpRequest) -> str:
    """The caller's address, the one every consumer uses (login throttling, sign-up and claim
    limits, install-callback limits, audit entries). Behind CLIENT_IP_PROXY_HOPS trusted proxies
    (nginx, the ingress) it is that many entries from the right of X-Forwarded-For, so a forged
    X-Forwarded-For changes nothing. Resolved once per request; always a valid address."""
    cached = getattr(request, _CLIENT_IP_ATTR, None)
    if isinstance(cached, str):
        return cached
    resolved = _resolve_client_ip(request)
    setattr(request, _CLIENT_IP_ATTR, resolved)
    return resolved


def client_ip_bucket(ip: str) -> str:
    """The unit a rate limit counts: an IPv4 address, or the /64 network of an IPv6 address (one
    subscriber gets a whole /64, so counting single IPv6 addresses would count nothing)."""
    parsed = _parse_ip(ip)
    if parsed is None:
        return ip
    address = ipaddress.ip_address(parsed)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return parsed


def network_label() -> str:
    """The current network's slug ("public" on the platform schema, "-" before any schema is set).

    In a request the middleware has set the network; in a Celery task tenant-schemas-celery has
    (and the task id stands in for the request id, see observability/celery_signals.py)."""
    schema = getattr(connection, "schema_name", None)
    if not schema:
        return "-"
    if schema == "public":
        return "public"
    slug = getattr(getattr(connection, "tenant", None), "slug", None)
    # A schema name is the slug with "-" written as "_" (tenants/slugs.py).
    return slug if isinstance(slug, str) and slug else str(schema).replace("_", "-")


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.network = network_label()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
            "request_id": getattr(record, "request_id", "-"),
            "network": getattr(record, "network", "-"),
        }
        if record.exc_info:
            payload["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(payload, ensure_ascii=False)
