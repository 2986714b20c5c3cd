"""A request limiter shared by every process: at most ``rate`` calls per window per key.

amoCRM allows 7 requests per second (spec §2.8) and bans whoever keeps exceeding it, so the
budget is kept in Redis and checked atomically by a Lua script (a sliding-window log: one
sorted-set entry per granted request, scored by Redis's own clock so that the hosts' clocks do
not matter). ``acquire`` sleeps until a slot frees up or the timeout passes.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from crm_connectors.amocrm.consts import DEFAULT_RATE_PER_SECOND
from crm_connectors.http import wait_for_slot

if TYPE_CHECKING:
    from redis import Redis

logger = logging.getLogger(__name__)

# Returns 0 when the slot is granted, else the microseconds until the oldest entry leaves the
# window. Entries scored exactly ``now - window`` are outside it, so any window of that length
# holds at most ``limit`` grants.
_SLIDING_WINDOW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = tonumber(oldest[2]) + window - now
if wait < 1 then wait = 1 end
return wait
"""


class RedisRateLimiter:
    """At most ``rate`` grants per ``period + margin`` seconds per key, across processes.

    ``margin`` widens the window a little so that the few milliseconds between our grant and
    the request reaching amoCRM cannot squeeze an eighth request into amoCRM's own second.
    """

    def __init__(
        self,
        redis: Redis[Any],
        *,
        rate: int = DEFAULT_RATE_PER_SECOND,
        period: float = 1.0,
        margin: float = 0.05,
        prefix: str = "crm:amocrm:ratelimit",
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate < 1 or period <= 0 or margin < 0:
            raise ValueError("rate must be >= 1, period > 0, margin >= 0")
        self._redis = redis
        self._script = redis.register_script(_SLIDING_WINDOW_LUA)
        self._rate = rate
        self._window_us = int((period + margin) * 1_000_000)
        self._prefix = prefix
        self._sleep = sleep
        self._monotonic = monotonic

    def key_for(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    def try_acquire(self, key: str) -> int:
        """One atomic attempt: 0 when granted, else microseconds to wait before retrying."""
        result = self._script(
            keys=[self.key_for(key)], args=[self._rate, self._window_us, uuid.uuid4().hex]
        )
        return int(result)

    def acquire(self, key: str, timeout: float) -> bool:
        if wait_for_slot(
            self.try_acquire, key, timeout, sleep=self._sleep, monotonic=self._monotonic
        ):
            return True
        logger.info("rate limit slot not available within %.2fs for %s", timeout, key)
        return False


class NullRateLimiter:
    """No limit at all: for the dummy connector and unit tests only."""

    def acquire(self, key: str, timeout: float) -> bool:
        return True
