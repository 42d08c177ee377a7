"""Requests per minute per centre: a token bucket for each, in this process or in Redis.

A bucket holds up to ``burst`` tokens and refills at ``per_minute / 60`` a second; a
request takes one token or is refused with the seconds until one is back. Each centre
has its own bucket, so one centre spending its budget never slows another.

In-process buckets are exact for one API process; with N processes behind a balancer a
centre gets up to N times its budget. ``GATEWAY_RATE_LIMIT_REDIS_URL`` shares the buckets
through Redis (one round trip running a small Lua script, atomic). The database is not
used: a row updated by every request of a busy centre would serialise its requests on
that row's lock, on the path whose throughput matters most. If Redis cannot be reached
the request is let through (counted and logged): claims are not refused because the
limiter is down.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Protocol

from gateway import metrics

log = logging.getLogger(__name__)


class Limiter(Protocol):
    def take(self, key: str) -> float:
        """0 when the request may go on, else the seconds to wait before trying again."""
        ...


class Unlimited:
    def take(self, key: str) -> float:
        return 0.0


class LocalBuckets:
    """Token buckets in this process's memory; a few microseconds a request."""

    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._now = time.monotonic
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        now = self._now()
        with self._lock:
            tokens, then = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate


# KEYS[1]: the bucket; ARGV: rate per second, burst, ttl (seconds). Redis's clock, not
# the callers': every API process then agrees on "now". Returns 0 when a token was
# taken, else the milliseconds until one is back.
_TAKE = """
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local tokens = tonumber(bucket[1]) or burst
local at = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate * 1000) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], ARGV[3])
return wait
"""


class RedisBuckets:
    """The same buckets kept in Redis, shared by every API process."""

    def __init__(self, url: str, per_minute: int, burst: int, prefix: str = "gateway:rl:") -> None:
        import redis

        self.rate = per_minute / 60.0
        self.burst = burst
        self.prefix = prefix
        self.ttl = max(60, math.ceil(burst / self.rate) + 60)
        self._client = redis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25)
        self._script = self._client.register_script(_TAKE)

    def take(self, key: str) -> float:
        try:
            waited = self._script(keys=[self.prefix + key], args=[self.rate, self.burst, self.ttl])
        except Exception:
            metrics.RATE_LIMIT_ERRORS.inc()
            log.warning("rate limiter store unreachable; request let through", exc_info=True)
            return 0.0
        return int(waited) / 1000.0


def make_limiter(
    per_minute: int, burst: int | None, redis_url: str | None, prefix: str = "gateway:rl:"
) -> Limiter:
    """The limiter the settings ask for; ``per_minute`` 0 turns limiting off. Budgets kept
    apart (a centre's requests, its eligibility inquiries) use different Redis prefixes."""
    if per_minute <= 0:
        return Unlimited()
    size = burst if burst and burst > 0 else per_minute
    if redis_url:
        return RedisBuckets(redis_url, per_minute, size, prefix)
    return LocalBuckets(per_minute, size)
