"""Circuit-breaker state in Redis, so every replica stops calling a dead model together.

A failure is counted by one Lua script (count, maybe open, in one atomic step). Breakers on
shared state need a clock the replicas agree on: :class:`~kefu.llm.fallback.FallbackChain`
uses ``time.time`` when it is given shared states.

While Redis is unreachable the breakers fall back to this process's own records (as without
Redis) and take up the shared ones again when it is back.
"""

from __future__ import annotations

from kefu.core.redis_conn import RedisConnection
from kefu.llm.fallback import BreakerRecord, InMemoryBreakerStates

__all__ = ["RedisBreakerStates"]

# KEYS[1] the record; ARGV: threshold, now, ttl ms. Returns {failures, opened_at or ''}.
RECORD_FAILURE = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local opened = redis.call('HGET', KEYS[1], 'opened_at')
if failures >= tonumber(ARGV[1]) or opened then
  opened = ARGV[2]
  redis.call('HSET', KEYS[1], 'opened_at', opened)
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {failures, opened or ''}
"""

RECORD_TTL_MS = 24 * 3600 * 1000  # a record nobody touched for a day is forgotten


class RedisBreakerStates:
    """:class:`~kefu.llm.fallback.BreakerStates` in a Redis hash per key."""

    def __init__(self, connection: RedisConnection, namespace: str = "") -> None:
        self._connection = connection
        self._namespace = namespace  # the app's name: its chain's keys are its own
        self._record_failure = connection.sync.register_script(RECORD_FAILURE)
        self._local = InMemoryBreakerStates()  # while Redis is unreachable

    def _key(self, key: str) -> str:
        return self._connection.key("breaker", self._namespace, key)

    def get(self, key: str) -> BreakerRecord:
        fields = self._connection.call(
            "circuit breakers use this process's records",
            lambda client: client.hmget(self._key(key), "failures", "opened_at"),
            None,
        )
        if fields is None:
            return self._local.get(key)
        failures, opened_at = fields
        return BreakerRecord(
            int(failures or 0), float(opened_at) if opened_at is not None else None
        )

    def record_failure(self, key: str, threshold: int, now: float) -> BreakerRecord:
        reply = self._connection.call(
            "circuit breakers use this process's records",
            lambda client: self._record_failure(
                keys=[self._key(key)], args=[threshold, repr(now), RECORD_TTL_MS], client=client
            ),
            None,
        )
        if reply is None:
            return self._local.record_failure(key, threshold, now)
        failures, opened_at = reply
        return BreakerRecord(int(failures), float(opened_at) if opened_at else None)

    def reset(self, key: str) -> None:
        self._local.reset(key)
        self._connection.call(
            "circuit breakers use this process's records",
            lambda client: client.delete(self._key(key)),
            None,
        )
