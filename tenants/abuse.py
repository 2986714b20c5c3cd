"""Limits against mass sign-ups: a per-address budget of network creations (the form and the API
share it). The address is franchise_platform.request_context.client_ip's."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django_tenants.utils import schema_context

# One resolution of the client address for every consumer (kept importable from here).
from franchise_platform.request_context import client_ip, client_ip_bucket

__all__ = ["client_ip", "signup_attempt_allowed", "signup_rate_key"]

WINDOW_SECONDS = 3600


def signup_rate_key(ip: str) -> str:
    return f"signup-rate:{client_ip_bucket(ip)}:{int(time.time()) // WINDOW_SECONDS}"


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
