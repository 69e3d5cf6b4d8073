"""Token buckets in Redis: one budget per key however many replicas its requests reach.

The take is one Lua script (read, refill, take, write in one atomic step on the server), so
two replicas taking at the same moment never both spend the last token. The time comes from
the caller's clock (``time.time`` by default: replicas' clocks agree to NTP's few ms, far
below a bucket's refill period), which also lets the conformance suite drive it.

When Redis is unreachable a take lets the request through (returns 0) and logs a warning:
kefu keeps answering rather than refusing every customer; the per-app cap on answers in
progress still holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kefu.core.redis_conn import RedisConnection

__all__ = ["RedisRateLimits"]

# KEYS[1] the bucket; ARGV: rate, burst, now. Returns the wait in seconds, as a string
# (Lua numbers reach Redis replies as integers).
TAKE = """
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens, stamp = tonumber(bucket[1]), tonumber(bucket[2])
if tokens == nil then tokens, stamp = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisRateLimits:
    """:class:`~kefu.safety.rate_limit.RateLimits` on Redis (one script call per take)."""

    def __init__(self, connection: RedisConnection, clock: Callable[[], float] = time.time) -> None:
        self._connection = connection
        self._clock = clock
        self._take = connection.sync.register_script(TAKE)

    def take(self, key: str, rate: float, burst: int) -> float:
        bucket = self._connection.key("rate", key)
        args = (repr(float(rate)), str(int(burst)), repr(self._clock()))
        wait = self._connection.call(
            "rate limits let requests through",
            lambda client: self._take(keys=[bucket], args=args, client=client),
            b"0",
        )
        return float(wait)
