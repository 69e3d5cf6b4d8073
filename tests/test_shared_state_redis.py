"""The Redis implementations of shared state pass the same conformance suites as their
in-memory twins (``tests/test_shared_state.py``), against a real redis-server; ``replica``
is a second connection and object on the same keys, as another replica would hold."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from kefu.core.redis_cache import RedisCache
from kefu.core.redis_conn import RedisConnection
from kefu.core.redis_locks import RedisTurnLocks
from kefu.handoff.redis_events import RedisEventHub
from kefu.llm.redis_breakers import RedisBreakerStates
from kefu.safety.redis_rate_limits import RedisRateLimits
from kefu.services.redis_tasks import RedisAnswerTasks
from kefu.testing.conformance.breakers import BreakerStatesConformance
from kefu.testing.conformance.caches import CacheConformance, CacheMaker
from kefu.testing.conformance.events import EventHubConformance
from kefu.testing.conformance.rate_limits import FakeClock, RateLimitsConformance
from kefu.testing.conformance.tasks import AnswerTasksConformance
from kefu.testing.conformance.turn_locks import TurnLocksConformance


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
