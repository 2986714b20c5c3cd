"""What every CRM client does the same way over HTTP.

One pooled ``httpx.Client`` per process, JSON that never passes money through ``float``, the
bounded in-call retry schedule with full jitter, slots from the shared rate limiter (and the
wait for one in a Redis limiter), and the error for a call that got no answer. Each vendor's ``client.py`` keeps what is its own: the
addresses, the authorisation, how an answer maps to a ``CrmError``, what may be repeated.
Like the vendors, this module knows nothing of Django or the core.
"""

from __future__ import annotations

import json
import os
import random
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from crm_connectors.base import RateLimiter
from crm_connectors.errors import CrmError, CrmRateLimited, CrmUnavailable

MAX_MESSAGE = 300

_shared_http: tuple[int, httpx.Client] | None = None
_shared_http_lock = threading.Lock()


def shared_http_client() -> httpx.Client:
    """One pooled client per process (httpx.Client is thread-safe; building one loads the TLS
    trust store, which is slow). Re-created after a fork, e.g. in a Celery worker. Redirects are
    never followed: a vendor that moves (a Bitrix24 portal) is re-posted by its client."""
    global _shared_http
    with _shared_http_lock:
        if _shared_http is None or _shared_http[0] != os.getpid():
            _shared_http = (os.getpid(), httpx.Client(follow_redirects=False))
        return _shared_http[1]


def encode_json(value: Any, *, integral_as_integer: bool = False) -> bytes:
    """JSON with ``Decimal`` written as an exact JSON number (never through float).

    ``integral_as_integer``: a whole amount goes out without its places (``1500.00`` → ``1500``),
    for a vendor whose integer fields refuse ``1500.00``; otherwise the places are kept."""
    nonce = uuid.uuid4().hex
    numbers: dict[str, str] = {}

    def default(obj: object) -> str:
        if isinstance(obj, Decimal):
            if not obj.is_finite():
                raise ValueError("non-finite Decimal")
            marker = f"@@{nonce}-{len(numbers)}@@"
            whole = integral_as_integer and obj == obj.to_integral()
            numbers[f'"{marker}"'] = format(obj.normalize() if whole else obj, "f")
            return marker
        raise TypeError(f"{type(obj).__name__} is not JSON serialisable")

    text = json.dumps(value, default=default, ensure_ascii=False, separators=(",", ":"))
    for quoted_marker, number in numbers.items():
        text = text.replace(quoted_marker, number)
    return text.encode("utf-8")


def decode_json(content: bytes) -> Any:
    """Parse a CRM's JSON; fractional numbers become ``Decimal`` so no float ever appears."""
    return json.loads(content, parse_float=Decimal)


def clip(text: str) -> str:
    """Vendor text cut to a length fit for an error message or a log line."""
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "…"


def body_dict(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, or ``{}`` when it is not one (an HTML error page, a list)."""
    try:
        body = decode_json(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def json_headers(user_agent: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": user_agent,
    }


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded in-call retries; past them the caller (the outbox) schedules a later attempt.

    Each vendor's client subclasses this with its own numbers. ``jitter_over_retry_after``: a
    wait the CRM asked for is served plus up to ``base_delay`` of jitter; without it the wait is
    only a floor under the usual full-jitter delay."""

    max_attempts: int
    base_delay: float
    max_delay: float
    max_total_wait: float
    jitter_over_retry_after: bool = False

    def delay_before(self, attempt: int, waited: float, retry_after: float | None) -> float | None:
        """Seconds to sleep before attempt ``attempt + 1``, or None when the budget is spent."""
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None and self.jitter_over_retry_after:
            delay = retry_after + random.uniform(0, self.base_delay)  # noqa: S311
        else:
            ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
            delay = random.uniform(0, ceiling)  # noqa: S311  full jitter
            if retry_after is not None:
                delay = max(delay, retry_after)
        if waited + delay > self.max_total_wait:
            return None
        return delay


class CallAttempts:
    """The attempts of one call: counts them, and between two sleeps what ``backoff(attempt,
    waited, retry_after)`` says, or raises the last error once the budget is spent."""

    def __init__(
        self,
        backoff: Callable[[int, float, float | None], float | None],
        sleep: Callable[[float], None],
    ) -> None:
        self.number = 0
        self.waited = 0.0
        self._backoff = backoff
        self._sleep = sleep

    def start(self) -> int:
        self.number += 1
        return self.number

    def not_counted(self) -> None:
        """The attempt just made was an authorisation retry or a move, not a backoff one."""
        self.number -= 1

    def pause_or_raise(
        self, error: CrmError, *, can_retry: bool, retry_after: float | None = None
    ) -> None:
        delay = self._backoff(self.number, self.waited, retry_after) if can_retry else None
        if delay is None:
            raise error
        self.waited += delay
        self._sleep(delay)


def acquire_slots(limiter: RateLimiter, keys: Iterable[str], timeout: float) -> None:
    """A slot of every budget in ``keys``, in order (the first one may hold a caller back
    before it takes a slot of the next). CrmRateLimited when one is not free in time,
    CrmUnavailable when the limiter's store (Redis) is down."""
    for key in keys:
        try:
            granted = limiter.acquire(key, timeout)
        except CrmError:
            raise
        except Exception as exc:  # the limiter's store (Redis) is down: try later
            raise CrmUnavailable(
                f"rate limiter unavailable: {type(exc).__name__}", code="limiter_unavailable"
            ) from None
        if not granted:
            raise CrmRateLimited(
                "no rate-limit slot in time", retry_after=1.0, code="local_rate_limit"
            )


def wait_for_slot(
    try_acquire: Callable[[str], int],
    key: str,
    timeout: float,
    *,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
) -> bool:
    """Ask ``try_acquire(key)`` (0: granted, else microseconds to wait) until it grants a slot,
    or False once the next wait would pass ``timeout``. A Redis limiter's ``acquire``."""
    deadline = monotonic() + timeout
    while True:
        wait_us = try_acquire(key)
        if wait_us == 0:
            return True
        # A little jitter so that waiters woken together do not hit Redis in lockstep.
        delay = wait_us / 1_000_000 + random.uniform(0, 0.005)  # noqa: S311
        if delay > deadline - monotonic():
            return False
        sleep(delay)


def transport_failure(
    exc: httpx.HTTPError, *, vendor: str, repeatable: bool
) -> tuple[CrmUnavailable, bool]:
    """The error for a call that got no answer, and whether it may be sent again: one that never
    connected surely did not reach the CRM; any other may have been processed."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return CrmUnavailable(f"{vendor} unreachable: {type(exc).__name__}", code="network"), True
    error = CrmUnavailable(f"{vendor} call failed: {type(exc).__name__}", code="network")
    return error, repeatable
