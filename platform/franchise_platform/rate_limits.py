"""Fixed-window request budgets in Redis, shared by every network (the public schema's cache keys):
e-mails sent on request and the sign-up's address check. Losing Redis only forgets the counts."""

from __future__ import annotations

import hashlib
import time

from django.core.cache import cache
from django_tenants.utils import schema_context


def budget_spend(*, key: str, limit: int, window_seconds: int) -> bool:
    """Count one use of `key` in the current window; False once more than `limit` were counted.
    A limit of 0 or less means no limit."""
    if limit <= 0:
        return True
    window_key = f"{key}:{int(time.time()) // window_seconds}"
    with schema_context("public"):
        cache.add(window_key, 0, window_seconds + 60)
        try:
            count = int(cache.incr(window_key))
        except ValueError:  # expired between add and incr: the window starts again
            cache.set(window_key, 1, window_seconds + 60)
            count = 1
    return count <= limit


def email_key(email: str) -> str:
    """A mailbox as a key part: hashed (no addresses in Redis), case and spaces ignored."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
