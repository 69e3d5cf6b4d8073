"""The runtime builds its shared state from one setting, KEFU_REDIS_URL: in memory without
it (one process, as before), every part on Redis with it — and a turn runs through them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from kefu.core.caches import InMemoryCache, TieredCache
from kefu.core.locks import InMemoryTurnLocks
from kefu.core.redis_locks import RedisTurnLocks
from kefu.handoff.events import InMemoryEventHub
from kefu.handoff.redis_events import RedisEventHub
from kefu.llm.fallback import FallbackChain
from kefu.llm.redis_breakers import RedisBreakerStates
from kefu.safety.rate_limit import InMemoryRateLimits
from kefu.safety.redis_rate_limits import RedisRateLimits
from kefu.services.chat import ChatRequest
from kefu.services.redis_tasks import RedisAnswerTasks
from kefu.services.runtime import Runtime
from kefu.services.shared_state import SharedState
from kefu.services.tasks import InMemoryAnswerTasks
from tests.conftest import TINY_APP, make_settings


def test_without_a_redis_url_everything_is_in_process(tmp_path: Path) -> None:
    shared = SharedState.build(make_settings(tmp_path))
    assert isinstance(shared.tasks, InMemoryAnswerTasks)
    assert isinstance(shared.limits, InMemoryRateLimits)
    assert isinstance(shared.hub, InMemoryEventHub)
    assert isinstance(shared.locks, InMemoryTurnLocks)
    assert isinstance(shared.caches("ns", 4), InMemoryCache)
    assert shared.breakers("app") is None and shared.redis is None


async def test_with_a_redis_url_every_part_is_shared(tmp_path: Path, redis_url: str) -> None:
    settings = make_settings(tmp_path / "data", redis_url=SecretStr(redis_url))
    runtime = Runtime.build(settings, [TINY_APP])
    try:
        shared = runtime.shared
        assert runtime.announcements[0].startswith("shared state: Redis at 127.0.0.1:")
        assert isinstance(shared.tasks, RedisAnswerTasks)
        assert isinstance(shared.limits, RedisRateLimits)
        assert runtime.limits is shared.limits and runtime.chat.limits is shared.limits
        assert isinstance(runtime.handoff.notify.hub, RedisEventHub)
        assert isinstance(runtime.chat.locks, RedisTurnLocks)
        app = runtime.apps.get("tiny")
        assert isinstance(app.route_cache, TieredCache)
        if isinstance(app.model, FallbackChain):
            assert isinstance(app.model.breakers[0]._states, RedisBreakerStates)

        request = ChatRequest(app=app, user="u", query="hello")
        first = await runtime.chat.answer(await runtime.chat.prepare(request))
        again = ChatRequest(app=app, user="u", query="hello", conversation_id=first.conversation_id)
        second = await runtime.chat.answer(await runtime.chat.prepare(again))
        assert second.conversation_id == first.conversation_id
        assert second.answer == first.answer
        # The route decision went to Redis: another replica finds it there.
        assert any(k.startswith(b"kefu:cache:") for k in shared.redis.sync.keys("kefu:cache:*"))  # type: ignore[union-attr]
        await runtime.aclose_models()
    finally:
        runtime.close()


def test_a_bad_redis_url_is_a_config_error(tmp_path: Path) -> None:
    from kefu.core.errors import ConfigError

    with pytest.raises(ConfigError, match="KEFU_REDIS_URL"):
        SharedState.build(make_settings(tmp_path, redis_url=SecretStr("http://nope")))
