"""Slowing down password guessing without handing anyone a way to lock a chosen person out.

Failures are counted per (account, address) pair and per address alone (password spraying over
many accounts), never per account alone: a lock on the account would let anybody who knows the
owner's e-mail keep the owner out from everywhere. Past a free allowance each further failure
doubles the wait before the next try (LOGIN_DELAY_FIRST_SECONDS up to LOGIN_DELAY_MAX_SECONDS).

An attempt is counted *before* the password is checked, under a row lock, so that a burst of
parallel guesses cannot all slip in before the first failure is written; a right password takes
its count back. Rows idle for LOGIN_FAILURES_FORGOTTEN_SECONDS start over. The address is
request_context.client_ip's (through the configured proxies), an IPv6 client counted by its /64.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from franchise_platform.request_context import client_ip_bucket

from .models import LoginThrottle


@dataclass(frozen=True)
class LoginAttempt:
    allowed: bool
    # Refused: seconds until the next try is allowed. Allowed: the wait a failure of this very
    # attempt starts (0: none yet).
    wait_seconds: int
    account: str
    address: str


def now() -> datetime:
    """The throttle's clock (tests move it instead of sleeping)."""
    return timezone.now()


def account_key(username: str) -> str:
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()


def delay_after(failures: int, *, free: int) -> int:
    """Seconds to wait after `failures` failures: none within the allowance, then doubling."""
    if failures < free:
        return 0
    first = int(settings.LOGIN_DELAY_FIRST_SECONDS)
    cap = int(settings.LOGIN_DELAY_MAX_SECONDS)
    return int(min(first * 2 ** min(failures - free, 32), cap))


def wait_text(seconds: int) -> str:
    """«5 мин.»: minutes, rounded up (no plural forms to get wrong)."""
    return _("%(minutes)s мин.") % {"minutes": max(1, math.ceil(seconds / 60))}


@transaction.atomic
def login_attempt_begin(*, username: str, ip: str) -> LoginAttempt:
    """Count one sign-in attempt of `username` from `ip`, or refuse it while a wait is running."""
    moment = now()
    account, address = account_key(username), client_ip_bucket(ip)
    free = {
        account: int(settings.LOGIN_FREE_FAILURES),
        "": int(settings.LOGIN_ADDRESS_FREE_FAILURES),
    }
    LoginThrottle.objects.bulk_create(
        [LoginThrottle(account=key, address=address, updated_at=moment) for key in free],
        ignore_conflicts=True,
    )
    rows = list(
        LoginThrottle.objects.select_for_update()
        .filter(Q(account=account) | Q(account=""), address=address)
        .order_by("account")  # one lock order for every caller: no deadlocks
    )
    forget_before = moment - timedelta(seconds=int(settings.LOGIN_FAILURES_FORGOTTEN_SECONDS))
    for row in rows:
        if row.updated_at < forget_before:
            row.failures, row.blocked_until = 0, None
    running = [
        row.blocked_until for row in rows if row.blocked_until and row.blocked_until > moment
    ]
    if running:
        wait = math.ceil((max(running) - moment).total_seconds())
        return LoginAttempt(False, wait, account, address)
    wait_if_failed = 0
    for row in rows:
        row.failures += 1
        wait = delay_after(row.failures, free=free[row.account])
        row.blocked_until = moment + timedelta(seconds=wait) if wait else None
        row.updated_at = moment
        row.save(update_fields=["failures", "blocked_until", "updated_at"])
        wait_if_failed = max(wait_if_failed, wait)
    if secrets.randbelow(100) == 0:  # now and then, rows nobody has touched for a day go
        LoginThrottle.objects.filter(updated_at__lt=forget_before).delete()
    return LoginAttempt(True, wait_if_failed, account, address)


@transaction.atomic
def login_attempt_succeeded(*, attempt: LoginAttempt) -> None:
    """The password was right: the pair starts over and the address gets its count back."""
    LoginThrottle.objects.filter(account=attempt.account, address=attempt.address).delete()
    row = (
        LoginThrottle.objects.select_for_update()
        .filter(account="", address=attempt.address)
        .first()
    )
    if row is not None:
        row.failures = max(row.failures - 1, 0)
        # The wait this attempt started in advance was for a failure that did not happen.
        row.blocked_until = None
        row.save(update_fields=["failures", "blocked_until"])


def login_throttle_forget(*, username: str) -> None:
    """A new password was set through the mailbox: the account's waits end at every address."""
    LoginThrottle.objects.filter(account=account_key(username)).delete()
