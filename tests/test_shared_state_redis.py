"""The Redis implementations of shared state pass the same conformance suites as their
in-memory twins (``tests/test_shared_state.py``), against a real redis-server; ``replica``
is a second connection and object on the same keys, as another replica would hold."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from kefu.core.caches import InMemoryCache, TieredCache
from kefu.core.errors import Conflict
from kefu.core.redis_cache import RedisCache
from kefu.core.redis_conn import RedisConnection
from kefu.core.redis_locks import RedisTurnLocks
from kefu.handoff.redis_events import RedisEventHub
from kefu.llm.fallback import BreakerRecord
from kefu.llm.redis_breakers import RedisBreakerStates
from kefu.safety.redis_rate_limits import RedisRateLimits
from kefu.services.redis_tasks import RedisAnswerTasks
from kefu.testing.conformance.breakers import BreakerStatesConformance
from kefu.testing.conformance.caches import CacheConformance, CacheMaker
from kefu.testing.conformance.events import EventHubConformance
from kefu.testing.conformance.rate_limits import FakeClock, RateLimitsConformance
from kefu.testing.conformance.tasks import AnswerTasksConformance
from kefu.testing.conformance.turn_locks import TurnLocksConformance
from tests.servers import free_port


@pytest.fixture
def connections(redis_url: str) -> Iterator[tuple[RedisConnection, RedisConnection]]:
    """Two replicas' connections, under a prefix of this test's own."""
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    pair = (RedisConnection(redis_url, prefix=prefix), RedisConnection(redis_url, prefix=prefix))
    yield pair
    for connection in pair:
        connection.close()


class TestRedisAnswerTasks(AnswerTasksConformance):
    @pytest.fixture
    async def both(self, connections: Any) -> AsyncIterator[tuple[RedisAnswerTasks, ...]]:
        pair = tuple(RedisAnswerTasks(connection) for connection in connections)
        yield pair
        for tasks in pair:
            await tasks.aclose()

    @pytest.fixture
    def tasks(self, both: tuple[RedisAnswerTasks, ...]) -> RedisAnswerTasks:
        return both[0]

    @pytest.fixture
    def replica(self, both: tuple[RedisAnswerTasks, ...]) -> RedisAnswerTasks:
        return both[1]


class TestRedisRateLimits(RateLimitsConformance):
    @pytest.fixture
    def limits(self, connections: Any, clock: FakeClock) -> RedisRateLimits:
        return RedisRateLimits(connections[0], clock=clock)

    @pytest.fixture
    def replica(self, connections: Any, clock: FakeClock) -> RedisRateLimits:
        return RedisRateLimits(connections[1], clock=clock)


class TestRedisEventHub(EventHubConformance):
    @pytest.fixture
    async def both(self, connections: Any) -> AsyncIterator[tuple[RedisEventHub, ...]]:
        pair = tuple(RedisEventHub(connection) for connection in connections)
        yield pair
        for hub in pair:
            await hub.aclose()

    @pytest.fixture
    def hub(self, both: tuple[RedisEventHub, ...]) -> RedisEventHub:
        return both[0]

    @pytest.fixture
    def replica(self, both: tuple[RedisEventHub, ...]) -> RedisEventHub:
        return both[1]


class TestRedisCache(CacheConformance):
    @pytest.fixture
    def make_cache(self, connections: Any) -> CacheMaker:
        def make(size: int) -> RedisCache[Any, Any]:
            return RedisCache(connections[0], f"cache-{uuid.uuid4().hex[:8]}", size)

        return make

    @pytest.fixture
    def cache(self, connections: Any) -> RedisCache[Any, Any]:
        return RedisCache(connections[0], "shared", 3)

    @pytest.fixture
    def replica(self, connections: Any) -> RedisCache[Any, Any]:
        return RedisCache(connections[1], "shared", 3)


class TestTieredRedisCache(CacheConformance):
    """What the runtime builds with Redis: this process's LRU in front of the shared cache."""

    @pytest.fixture
    def make_cache(self, connections: Any) -> CacheMaker:
        def make(size: int) -> TieredCache[Any, Any]:
            shared = RedisCache(connections[0], f"cache-{uuid.uuid4().hex[:8]}", size)
            return TieredCache(InMemoryCache(size), shared)

        return make

    @pytest.fixture
    def cache(self, connections: Any) -> TieredCache[Any, Any]:
        return TieredCache(InMemoryCache(3), RedisCache(connections[0], "shared", 3))

    @pytest.fixture
    def replica(self, connections: Any) -> TieredCache[Any, Any]:
        return TieredCache(InMemoryCache(3), RedisCache(connections[1], "shared", 3))


class TestRedisTurnLocks(TurnLocksConformance):
    @pytest.fixture
    async def both(self, connections: Any) -> AsyncIterator[tuple[RedisTurnLocks, ...]]:
        pair = tuple(RedisTurnLocks(connection) for connection in connections)
        yield pair
        for locks in pair:
            await locks.aclose()

    @pytest.fixture
    def locks(self, both: tuple[RedisTurnLocks, ...]) -> RedisTurnLocks:
        return both[0]

    @pytest.fixture
    def replica(self, both: tuple[RedisTurnLocks, ...]) -> RedisTurnLocks:
        return both[1]


class TestRedisBreakerStates(BreakerStatesConformance):
    @pytest.fixture
    def states(self, connections: Any) -> RedisBreakerStates:
        return RedisBreakerStates(connections[0], "app")

    @pytest.fixture
    def replica(self, connections: Any) -> RedisBreakerStates:
        return RedisBreakerStates(connections[1], "app")


async def test_a_dead_replica_s_lock_expires_with_its_lease(connections: Any) -> None:
    here, there = connections
    dead = RedisTurnLocks(here, lease_s=0.3)
    alive = RedisTurnLocks(there, lease_s=0.3)
    # A replica that took the lock and died: the key and its lease, nobody renewing it.
    here.sync.set(here.key("turn", "c1"), "dead-replica-token", px=300)
    with pytest.raises(Conflict):
        async with alive.lock("c1", timeout_s=0.05):
            pass
    async with alive.lock("c1", timeout_s=2.0):  # free once the lease ran out
        pass
    await dead.aclose()
    await alive.aclose()


async def test_a_long_turn_keeps_its_lock_past_the_lease(connections: Any) -> None:
    here, there = connections
    holder, waiter = RedisTurnLocks(here, lease_s=0.6), RedisTurnLocks(there, lease_s=0.6)
    async with holder.lock("c1"):
        await asyncio.sleep(1.4)  # more than two leases: renewed while the turn runs
        with pytest.raises(Conflict):
            async with waiter.lock("c1", timeout_s=0.1):
                pass
    async with waiter.lock("c1", timeout_s=0.5):
        pass
    await holder.aclose()
    await waiter.aclose()


async def test_with_redis_down_each_part_falls_back_to_this_process() -> None:
    """Nothing listens on the port: every call answers its documented fallback at once."""
    connection = RedisConnection(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.1)
    started = time.perf_counter()
    assert RedisRateLimits(connection).take("user:a", 1.0, 1) == 0.0  # let through
    cache: RedisCache[str, str] = RedisCache(connection, "c", 10)
    assert cache.put("q", "a") == "a" and cache.get("q") is None  # misses
    breakers = RedisBreakerStates(connection, "app")
    assert breakers.record_failure("0:m", 1, now=5.0) == BreakerRecord(1, 5.0)  # local records
    assert breakers.get("0:m") == BreakerRecord(1, 5.0)
    tasks = RedisAnswerTasks(connection)
    running = tasks.start("t1", "app", "user")
    assert tasks.stop("t1", "app", "user") and running.stopped.is_set()  # a local stop
    assert not tasks.stop("elsewhere", "app", "user")
    hub = RedisEventHub(connection)
    async with hub.subscribe("c1") as queue:
        assert hub.publish("c1", {"n": 1}) == 1  # this process's listeners
        assert await asyncio.wait_for(queue.get(), 1) == {"n": 1}
    locks = RedisTurnLocks(connection)
    async with locks.lock("c1"):  # serialised in this process only
        with pytest.raises(Conflict):
            async with locks.lock("c1", timeout_s=0.05):
                pass
    assert time.perf_counter() - started < 2.0  # no call waited on the dead server twice
    await tasks.aclose()
    await hub.aclose()
    await locks.aclose()
    connection.close()
