"""Bitrix24's two limits (spec §3.6), kept in Redis so every process shares them.

1. The portal's **leaky bucket**: each request adds 1, the level drains 2 per second, a request
   above 50 is refused with ``503 QUERY_LIMIT_EXCEEDED``. ``acquire`` implements the same meter
   as a GCRA (one Redis key holding the "theoretical arrival time", scored by Redis's own clock):
   a burst of ``burst`` requests passes at once, then one per ``1 / drain`` seconds. We keep
   ``burst`` below the portal's 50 because other apps' requests from the same IP share it.
2. The per-method **time budget** (``operating``): every answer's ``time.operating`` says how
   many seconds of the method's budget are used until ``operating_reset_at``. Past a share of
   the limit we stop calling that method until the reset; ``OPERATION_TIME_LIMIT`` blocks it.

The client uses (2) only when the limiter implements ``OperatingBudget`` (the amoCRM-style
``RateLimiter`` protocol knows only ``acquire``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from crm_connectors.bitrix24.consts import (
    DEFAULT_BURST,
    DEFAULT_DRAIN_PER_SECOND,
    DEFAULT_OPERATING_LIMIT,
    OPERATING_STOP_SHARE,
    OPERATING_WINDOW_SECONDS,
)
from crm_connectors.http import wait_for_slot

if TYPE_CHECKING:
    from redis import Redis

logger = logging.getLogger(__name__)

# 0 when granted, else microseconds until the next request would be.
_GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then
  local wait = allow_at - now
  if wait < 1 then wait = 1 end
  return wait
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
"""

# The bucket is full: the next grant waits one interval, as after a burst.
_SATURATE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local full = now + tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < full then tat = full end
redis.call('SET', KEYS[1], tat, 'PX', math.ceil((tat - now) / 1000) + 1000)
return 0
"""


@runtime_checkable
class OperatingBudget(Protocol):
    """The per-method time budget; optional beside ``RateLimiter.acquire``."""

    def operating_wait(self, key: str, method: str) -> float:
        """Seconds until ``method`` may be called again on ``key`` (0: now)."""
        ...

    def note_operating(
        self, key: str, method: str, operating: float, reset_at: float | None
    ) -> None: ...

    def block_method(self, key: str, method: str, seconds: float) -> None: ...

    def saturate(self, key: str) -> None:
        """The portal said ``QUERY_LIMIT_EXCEEDED``: treat its bucket as full everywhere."""
        ...


class RedisBitrixLimiter:
    """The leaky bucket per key and the time budget per (key, method), across processes."""

    def __init__(
        self,
        redis: Redis[Any],
        *,
        drain_per_second: float = DEFAULT_DRAIN_PER_SECOND,
        burst: int = DEFAULT_BURST,
        operating_limit: float = DEFAULT_OPERATING_LIMIT,
        stop_share: float = OPERATING_STOP_SHARE,
        prefix: str = "crm:bitrix24:ratelimit",
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if drain_per_second <= 0 or burst < 1 or operating_limit <= 0 or not 0 < stop_share <= 1:
            raise ValueError("drain > 0, burst >= 1, operating_limit > 0, 0 < stop_share <= 1")
        self._redis = redis
        self._gcra = redis.register_script(_GCRA_LUA)
        self._saturate = redis.register_script(_SATURATE_LUA)
        self._interval_us = int(1_000_000 / drain_per_second)
        self._burst = burst
        self._operating_stop = operating_limit * stop_share
        self._prefix = prefix
        self._sleep = sleep
        self._monotonic = monotonic
        self._wall_clock = wall_clock

    def key_for(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    # -- the bucket ------------------------------------------------------------------------

    def try_acquire(self, key: str) -> int:
        """One atomic attempt: 0 when granted, else microseconds to wait before retrying."""
        tolerance = (self._burst - 1) * self._interval_us
        return int(self._gcra(keys=[self.key_for(key)], args=[self._interval_us, tolerance]))

    def acquire(self, key: str, timeout: float) -> bool:
        if wait_for_slot(
            self.try_acquire, key, timeout, sleep=self._sleep, monotonic=self._monotonic
        ):
            return True
        logger.info("Bitrix24 slot not available within %.2fs for %s", timeout, key)
        return False

    def saturate(self, key: str) -> None:
        self._saturate(keys=[self.key_for(key)], args=[self._burst * self._interval_us])

    # -- the time budget -------------------------------------------------------------------

    def _op_key(self, key: str, method: str) -> str:
        return f"{self._prefix}:{key}:operating:{method}"

    def _block_key(self, key: str, method: str) -> str:
        return f"{self._prefix}:{key}:blocked:{method}"

    def note_operating(
        self, key: str, method: str, operating: float, reset_at: float | None
    ) -> None:
        now = self._wall_clock()
        if operating < self._operating_stop:
            self._redis.delete(self._op_key(key, method))
            return
        # Past the share: stop until the oldest minute bucket expires (or a minute if unknown).
        until = reset_at if reset_at is not None and reset_at > now else now + 60.0
        until = min(until, now + OPERATING_WINDOW_SECONDS)
        self._redis.set(self._op_key(key, method), repr(until), px=int((until - now) * 1000) + 1)
        logger.warning("Bitrix24 %s: %s used %.0fs of its time budget", key, method, operating)

    def block_method(self, key: str, method: str, seconds: float) -> None:
        self._redis.set(self._block_key(key, method), "1", px=max(1, int(seconds * 1000)))

    def operating_wait(self, key: str, method: str) -> float:
        blocked_ms = int(self._redis.pttl(self._block_key(key, method)))
        wait = blocked_ms / 1000 if blocked_ms > 0 else 0.0
        raw = self._redis.get(self._op_key(key, method))
        if raw is not None:
            wait = max(wait, float(raw) - self._wall_clock())
        return max(0.0, wait)


class NullBitrixLimiter:
    """No limit at all: unit tests only."""

    def acquire(self, key: str, timeout: float) -> bool:
        return True
