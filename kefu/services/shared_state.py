"""The state every replica must share, built from one setting: KEFU_REDIS_URL.

Without it everything lives in this process (the embedded default: one process, nothing to
run beside it); with it, each piece is its Redis implementation, which passes the same
conformance suite (kefu.testing.conformance) as its in-memory twin. See docs/operations.md
for what each piece does while Redis is unreachable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from kefu.core.caches import CacheFactory, InMemoryCache, TieredCache, in_memory
from kefu.core.locks import InMemoryTurnLocks, TurnLocks
from kefu.core.redis_conn import RedisConnection
from kefu.core.settings import Settings
from kefu.handoff.events import EventHub, InMemoryEventHub
from kefu.llm.fallback import BreakerStates
from kefu.safety.rate_limit import InMemoryRateLimits, RateLimits
from kefu.services.tasks import AnswerTasks, InMemoryAnswerTasks

__all__ = ["SharedState"]

log = logging.getLogger(__name__)


@dataclass
class SharedState:
    """Stop signals, rate limits, live events, turn locks, caches and breaker states."""

    tasks: AnswerTasks = field(default_factory=InMemoryAnswerTasks)
    limits: RateLimits = field(default_factory=InMemoryRateLimits)
    hub: EventHub = field(default_factory=InMemoryEventHub)
    locks: TurnLocks = field(default_factory=InMemoryTurnLocks)
    caches: CacheFactory = in_memory
    redis: RedisConnection | None = None

    @classmethod
    def build(cls, settings: Settings) -> SharedState:
        """In memory, or on Redis when ``settings.redis_url`` is set."""
        if settings.redis_url is None:
            return cls(locks=InMemoryTurnLocks(settings.turn_lock_timeout_s))
        return cls.on_redis(
            settings.redis_url.get_secret_value(),
            timeout_s=settings.redis_timeout_s,
            lock_timeout_s=settings.turn_lock_timeout_s,
        )

    @classmethod
    def on_redis(
        cls,
        url: str,
        *,
        timeout_s: float = 0.25,
        lock_timeout_s: float = 30.0,
        prefix: str = "kefu:",
    ) -> SharedState:
        from kefu.core.redis_cache import RedisCache
        from kefu.core.redis_locks import RedisTurnLocks
        from kefu.handoff.redis_events import RedisEventHub
        from kefu.safety.redis_rate_limits import RedisRateLimits
        from kefu.services.redis_tasks import RedisAnswerTasks

        connection = RedisConnection(url, timeout_s=timeout_s, prefix=prefix)

        def caches(namespace: str, size: int) -> TieredCache[object, object]:
            return TieredCache(InMemoryCache(size), RedisCache(connection, namespace, size))

        return cls(
            tasks=RedisAnswerTasks(connection),
            limits=RedisRateLimits(connection),
            hub=RedisEventHub(connection),
            locks=RedisTurnLocks(connection, lock_timeout_s),
            caches=caches,
            redis=connection,
        )

    def describe(self) -> str:
        """One line for the start-up banner: where the shared state lives (never the URL's
        password)."""
        if self.redis is None:
            return "shared state: in this process (set KEFU_REDIS_URL for several replicas)"
        where = self.redis.sync.connection_pool.connection_kwargs
        place = f"{where.get('host', '?')}:{where.get('port', '?')}/{where.get('db', 0)}"
        if self.redis.ping():
            return f"shared state: Redis at {place}"
        log.warning("Redis at %s is unreachable: each part falls back to this process", place)
        return f"shared state: Redis at {place} (unreachable now: in-process fallbacks)"

    def breakers(self, app_name: str) -> BreakerStates | None:
        """Where an app's circuit breakers keep their state (None: in its own chain)."""
        if self.redis is None:
            return None
        from kefu.llm.redis_breakers import RedisBreakerStates

        return RedisBreakerStates(self.redis, app_name)

    async def aclose(self) -> None:
        """Close this event loop's Redis connections (listeners, lock clients)."""
        for part in (self.tasks, self.hub, self.locks):
            aclose = getattr(part, "aclose", None)
            if aclose is not None:
                await aclose()

    def close(self) -> None:
        if self.redis is not None:
            self.redis.close()
