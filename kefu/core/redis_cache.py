"""A cache of pure, repeatable work in Redis, shared by every replica.

Values are pickled (routing decisions and understanding results are plain dataclasses): Redis
must be as private as the database, as it is in any deployment that shares sessions through
it. Keys are hashed (``repr`` of the key: strings, tuples and dates are stable across
processes) under the cache's namespace, which its owner changes when the work's inputs change
(the app's knowledge revision, its intent model), so a stale entry is never read; old
namespaces expire.

The bound is kept by one Lua script per put: entries are ranked by when they were written and
the oldest go beyond ``size`` (first in, first out: a read costs one GET, no bookkeeping).
While Redis is unreachable the cache misses and forgets: the work is done again, as without
a cache.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from typing import Any, Generic, TypeVar

from kefu.core.redis_conn import RedisConnection

__all__ = ["DEFAULT_CACHE_TTL_S", "RedisCache"]

log = logging.getLogger(__name__)
K = TypeVar("K")
V = TypeVar("V")

DEFAULT_CACHE_TTL_S = 24 * 3600

# KEYS: the ranking (zset), its counter, the entry; ARGV: value, size, ttl ms.
PUT = """
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[3])
local n = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], n, KEYS[3])
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[2])
if over > 0 then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, over - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, over - 1)
  redis.call('DEL', unpack(oldest))
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
"""


class RedisCache(Generic[K, V]):
    """:class:`~kefu.core.caches.Cache` in Redis under ``namespace``; ``size=0`` disables it."""

    def __init__(
        self,
        connection: RedisConnection,
        namespace: str,
        size: int,
        ttl_s: float = DEFAULT_CACHE_TTL_S,
    ) -> None:
        self.size = size
        self._connection = connection
        self._prefix = connection.key("cache", namespace)
        self._ttl_ms = int(ttl_s * 1000)
        self._put = connection.sync.register_script(PUT)

    def _entry(self, key: Any) -> str:
        digest = hashlib.blake2b(repr(key).encode(), digest_size=16).hexdigest()
        return f"{self._prefix}:e:{digest}"

    def get(self, key: K) -> V | None:
        if self.size <= 0:
            return None
        raw = self._connection.call(
            "caches miss", lambda client: client.get(self._entry(key)), None
        )
        if raw is None:
            return None
        try:  # written by kefu itself (see above)
            value: V = pickle.loads(raw if isinstance(raw, bytes) else raw.encode())
        except Exception:  # e.g. written by another kefu version during a rolling update
            log.debug("an unreadable cache entry in %s is a miss", self._prefix, exc_info=True)
            return None
        return value

    def put(self, key: K, value: V) -> V:
        if self.size > 0:
            keys = [f"{self._prefix}:rank", f"{self._prefix}:n", self._entry(key)]
            args: list[bytes | int] = [
                pickle.dumps(value, pickle.HIGHEST_PROTOCOL),
                self.size,
                self._ttl_ms,
            ]
            self._connection.call(
                "caches miss",
                lambda client: self._put(keys=keys, args=args, client=client),
                None,
            )
        return value
