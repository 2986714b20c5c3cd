"""Limits against mass sign-ups: a per-address budget of network creations (the form and the API
share it) and the client address as seen through the configured number of proxies."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django_tenants.utils import schema_context

WINDOW_SECONDS = 3600


def client_ip(request: HttpRequest) -> str:
    """The caller's address. Behind CLIENT_IP_PROXY_HOPS trusted proxies (nginx, the ingress) it is
    that many entries from the right of X-Forwarded-For: entries further left are the client's own
    claims and could be forged to dodge the limit."""
    hops = int(getattr(settings, "CLIENT_IP_PROXY_HOPS", 0))
    if hops > 0:
        chain = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(chain) >= hops:
            return str(chain[-hops])
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def signup_rate_key(ip: str) -> str:
    return f"signup-rate:{ip}:{int(time.time()) // WINDOW_SECONDS}"


def signup_attempt_allowed(*, ip: str) -> bool:
    """Count one network creation for `ip` in the current hour; False once the budget is spent.

    Only attempts with well-formed input count (the caller checks the fields first): a person
    correcting a typo is not punished, while every creation, real or a bot's, uses the budget."""
    limit = int(settings.SIGNUP_RATE_LIMIT)
    if limit <= 0:
        return True
    key = signup_rate_key(ip)
    with schema_context("public"):
        cache.add(key, 0, WINDOW_SECONDS + 60)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr: start the window again
            cache.set(key, 1, WINDOW_SECONDS + 60)
            count = 1
    return count <= limit
