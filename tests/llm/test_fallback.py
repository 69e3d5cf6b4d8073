"""The fallback chain and its circuit breakers."""

from __future__ import annotations

import pytest

from kefu.appfile.llm_config import SamplingConfig
from kefu.core.errors import ProviderError
from kefu.llm.base import ChatMessage, collect
from kefu.llm.fallback import CircuitBreaker, FallbackChain
from kefu.testing import ScriptedChatModel

ASK = [ChatMessage("user", "hi")]
SAMPLING = SamplingConfig()


async def test_secondary_answers_when_primary_fails_before_first_token() -> None:
    primary = ScriptedChatModel(name="primary").fail("down")
    secondary = ScriptedChatModel(name="secondary").say("hello", " there")
    chain = FallbackChain([primary, secondary])
    completion = await collect(chain.stream(ASK, SAMPLING))
    assert completion.text == "hello there"
    assert chain.last_used == "secondary"
    assert chain.breakers[0].state == "closed"  # one failure is not enough to open


async def test_failure_after_first_token_is_raised_not_retried() -> None:
    primary = ScriptedChatModel(name="primary").fail("died", 1, "par", "tial")
    secondary = ScriptedChatModel(name="secondary").say("never")
    chain = FallbackChain([primary, secondary])
    with pytest.raises(ProviderError):
        await collect(chain.stream(ASK, SAMPLING))
    assert secondary.calls == []


async def test_open_circuit_skips_the_model() -> None:
    primary = ScriptedChatModel(name="primary", default=None)
    for _ in range(3):
        primary.fail("down")
    secondary = ScriptedChatModel(name="secondary")
    for _ in range(4):
        secondary.say("ok")
    chain = FallbackChain([primary, secondary], failures=3, reset_s=60)
    for _ in range(3):
        assert (await chain.complete(ASK, SAMPLING)).text == "ok"
    assert chain.breakers[0].state == "open"
    calls_before = len(primary.calls)
    assert (await chain.complete(ASK, SAMPLING)).text == "ok"
    assert len(primary.calls) == calls_before, "an open circuit is not called"


async def test_every_model_down_raises() -> None:
    chain = FallbackChain([ScriptedChatModel().fail("a"), ScriptedChatModel().fail("b")])
    with pytest.raises(ProviderError, match="a; b"):
        await chain.complete(ASK, SAMPLING)


def test_breaker_half_opens_after_reset() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=2, reset_s=10, clock=lambda: now[0])
    breaker.failure()
    assert breaker.allow()
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    now[0] = 10.0
    assert breaker.state == "half-open" and breaker.allow()
    breaker.failure()  # the trial failed: open again
    assert breaker.state == "open"
    now[0] = 25.0
    breaker.success()
    assert breaker.state == "closed"
