"""The in-memory implementations of shared state pass the conformance suites in
``kefu.testing.conformance`` (the Redis implementations run the same suites in
``tests/test_shared_state_redis.py``), plus what only the in-process versions promise."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kefu.core.caches import BoundedCache, Cache, InMemoryCache
from kefu.core.errors import Conflict
from kefu.core.locks import InMemoryTurnLocks, TurnLocks
from kefu.handoff.events import EventHub, InMemoryEventHub
from kefu.llm.fallback import BreakerStates, InMemoryBreakerStates
from kefu.safety.rate_limit import InMemoryRateLimits, RateLimits, TokenBuckets
from kefu.services.tasks import AnswerTasks, InMemoryAnswerTasks, TaskRegistry
from kefu.testing.conformance.breakers import BreakerStatesConformance
from kefu.testing.conformance.caches import CacheConformance, CacheMaker
from kefu.testing.conformance.events import EventHubConformance
from kefu.testing.conformance.rate_limits import FakeClock, RateLimitsConformance
from kefu.testing.conformance.tasks import AnswerTasksConformance
from kefu.testing.conformance.turn_locks import TurnLocksConformance


class TestInMemoryAnswerTasks(AnswerTasksConformance):
    @pytest.fixture
    def tasks(self) -> AnswerTasks:
        return InMemoryAnswerTasks()


class TestInMemoryRateLimits(RateLimitsConformance):
    @pytest.fixture
    def limits(self, clock: FakeClock) -> RateLimits:
        return InMemoryRateLimits(clock=clock)


class TestInMemoryEventHub(EventHubConformance):
    @pytest.fixture
    def hub(self) -> EventHub:
        return InMemoryEventHub()


class TestInMemoryCache(CacheConformance):
    @pytest.fixture
    def make_cache(self) -> CacheMaker:
        return InMemoryCache


class TestInMemoryTurnLocks(TurnLocksConformance):
    @pytest.fixture
    def locks(self) -> TurnLocks:
        return InMemoryTurnLocks()


class TestInMemoryBreakerStates(BreakerStatesConformance):
    @pytest.fixture
    def states(self) -> BreakerStates:
        return InMemoryBreakerStates()


def test_the_names_callers_construct_are_the_in_memory_classes() -> None:
    assert TaskRegistry is InMemoryAnswerTasks
    assert TokenBuckets is InMemoryRateLimits
    assert BoundedCache is InMemoryCache


def test_the_in_memory_cache_evicts_the_least_recently_used() -> None:
    cache: Cache[str, int] = InMemoryCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_the_in_memory_limiter_forgets_the_idlest_keys() -> None:
    clock = FakeClock()
    limits = InMemoryRateLimits(max_keys=2, clock=clock)
    limits.take("a", 1.0, 1)
    limits.take("b", 1.0, 1)
    limits.take("c", 1.0, 1)  # "a" is forgotten: a full bucket again
    assert limits.take("a", 1.0, 1) == 0.0
    assert limits.take("c", 1.0, 1) > 0


async def test_the_in_memory_hub_counts_its_listeners() -> None:
    hub = InMemoryEventHub()
    async with hub.subscribe("c1"), hub.subscribe("c1"):
        assert hub.publish("c1", {"n": 1}) == 2
    assert hub.publish("c1", {"n": 2}) == 0


async def test_the_in_memory_locks_forget_idle_conversations() -> None:
    locks = InMemoryTurnLocks(timeout_s=0.05)
    async with locks.lock("c1"):
        assert len(locks) == 1
        with pytest.raises(Conflict, match="still being answered"):
            async with locks.lock("c1"):  # the default timeout
                pass
    assert len(locks) == 0


async def test_the_stop_reaches_the_running_task_s_event() -> None:
    tasks = InMemoryAnswerTasks()
    running = tasks.start("t1", "app", "user")
    seen: list[Any] = []

    async def answer() -> None:
        await running.stopped.wait()
        seen.append("stopped")

    answering = asyncio.create_task(answer())
    await asyncio.sleep(0)
    tasks.stop("t1", "app", "user")
    await asyncio.wait_for(answering, 1)
    assert seen == ["stopped"]
