"""A chain of models tried in order, each behind a circuit breaker.

A model that keeps failing is skipped for a while instead of being hammered on every
customer message; when every model in the chain is unavailable the caller falls back to
the extractive answer, so a dead LLM never leaves a customer without a reply.

Breaker state sits behind :class:`BreakerStates` (in memory by default); the Redis
implementation (:mod:`kefu.llm.redis_breakers`) shares it between replicas; both pass
:class:`kefu.testing.conformance.breakers.BreakerStatesConformance`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from kefu.appfile.llm_config import SamplingConfig
from kefu.core.errors import (
    ProviderBadResponse,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
)
from kefu.llm.base import ChatMessage, ChatModel, Completion, StreamChunk
from kefu.observability import metrics

__all__ = [
    "BreakerRecord",
    "BreakerStates",
    "CircuitBreaker",
    "FallbackChain",
    "InMemoryBreakerStates",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BreakerRecord:
    """What a circuit breaker remembers: failures in a row, and when it last opened."""

    failures: int = 0
    opened_at: float | None = None


@runtime_checkable
class BreakerStates(Protocol):
    """Circuit-breaker state by key (one key per model of a chain), possibly shared between
    replicas so that all of them stop calling a dead model together."""

    def get(self, key: str) -> BreakerRecord:
        """The key's record; a fresh (closed) one for an unknown key."""
        ...

    def record_failure(self, key: str, threshold: int, now: float) -> BreakerRecord:
        """Count a failure, in one step: the breaker opens (``opened_at = now``) when the
        count reaches ``threshold`` or it was open already (a failed half-open trial)."""
        ...

    def reset(self, key: str) -> None:
        """A success: the breaker closes and its count restarts."""
        ...


class InMemoryBreakerStates:
    """Breaker records in a dict, for one process."""

    def __init__(self) -> None:
        self._records: dict[str, BreakerRecord] = {}

    def get(self, key: str) -> BreakerRecord:
        return self._records.get(key, BreakerRecord())

    def record_failure(self, key: str, threshold: int, now: float) -> BreakerRecord:
        record = self.get(key)
        failures = record.failures + 1
        opened_at = record.opened_at
        if failures >= threshold or opened_at is not None:
            opened_at = now
        self._records[key] = updated = BreakerRecord(failures, opened_at)
        return updated

    def reset(self, key: str) -> None:
        self._records.pop(key, None)


class CircuitBreaker:
    """Closed → open after ``failures`` in a row → half-open after ``reset_s`` (one trial).

    Its state lives in ``states`` under ``key`` (its own in-memory record by default); with
    shared states, use a clock all replicas agree on (``time.time``).
    """

    def __init__(
        self,
        failures: int,
        reset_s: float,
        clock: Callable[[], float] = time.monotonic,
        states: BreakerStates | None = None,
        key: str = "",
    ) -> None:
        self._threshold = failures
        self._reset_s = reset_s
        self._clock = clock
        self._states: BreakerStates = states if states is not None else InMemoryBreakerStates()
        self._key = key

    @property
    def state(self) -> str:
        opened_at = self._states.get(self._key).opened_at
        if opened_at is None:
            return "closed"
        return "half-open" if self._clock() - opened_at >= self._reset_s else "open"

    def allow(self) -> bool:
        return self.state != "open"

    def success(self) -> None:
        self._states.reset(self._key)

    def failure(self) -> None:
        self._states.record_failure(self._key, self._threshold, self._clock())


class FallbackChain:
    """``ChatModel`` that tries each model in turn until one answers.

    A stream falls over to the next model only before its first chunk; a failure after
    that is raised, and the engine replaces the partial answer.
    """

    def __init__(
        self,
        models: Sequence[ChatModel],
        failures: int = 3,
        reset_s: float = 30.0,
        states: BreakerStates | None = None,
    ):
        if not models:
            raise ValueError("a fallback chain needs at least one model")
        self.models = list(models)
        # Shared states need a clock every replica agrees on; one process, a monotonic one.
        clock = time.monotonic if states is None else time.time
        states = states if states is not None else InMemoryBreakerStates()
        self.breakers = [
            CircuitBreaker(
                failures, reset_s, clock=clock, states=states, key=f"{position}:{model.name}"
            )
            for position, model in enumerate(self.models)
        ]
        self.name = " → ".join(model.name for model in self.models)
        self.last_used: str = ""

    async def aclose(self) -> None:
        """Release the models' connections (call from the loop that used them)."""
        for model in self.models:
            aclose = getattr(model, "aclose", None)
            if aclose is not None:
                await aclose()

    def _available(self) -> list[tuple[ChatModel, CircuitBreaker]]:
        available = [(m, b) for m, b in zip(self.models, self.breakers, strict=True) if b.allow()]
        if not available:
            metrics.llm_error(self.name, "circuit_open")
            raise ProviderError("every model is unavailable (circuit open)")
        return available

    def _failed(
        self, model: ChatModel, breaker: CircuitBreaker, exc: ProviderError, *, last: bool
    ) -> None:
        """Count a model's failure (breaker, metrics); ``last``: no model is left to try."""
        breaker.failure()
        metrics.llm_error(model.name, _kind(exc))
        if not last:
            metrics.llm_fallback(model.name, "next")
        log.warning("model failed, trying the next: %s", exc.message)

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        sampling: SamplingConfig,
        tools: Sequence[dict[str, Any]] | None = None,
    ) -> Completion:
        errors: list[str] = []
        available = self._available()
        for position, (model, breaker) in enumerate(available, 1):
            try:
                completion = await model.complete(messages, sampling, tools)
            except ProviderError as exc:
                self._failed(model, breaker, exc, last=position == len(available))
                errors.append(exc.message)
                continue
            breaker.success()
            self.last_used = model.name
            usage = completion.usage
            metrics.llm_tokens(model.name, usage.prompt_tokens, usage.completion_tokens)
            return completion
        raise ProviderError("; ".join(errors))

    async def stream(
        self, messages: Sequence[ChatMessage], sampling: SamplingConfig
    ) -> AsyncIterator[StreamChunk]:
        errors: list[str] = []
        available = self._available()
        for position, (model, breaker) in enumerate(available, 1):
            chunks = model.stream(messages, sampling)
            try:
                first = await anext(chunks)
            except StopAsyncIteration:
                breaker.success()
                self.last_used = model.name
                return
            except ProviderError as exc:
                self._failed(model, breaker, exc, last=position == len(available))
                errors.append(exc.message)
                await _close(chunks)
                continue
            self.last_used = model.name
            try:
                yield first
                async for chunk in chunks:
                    yield chunk
            except ProviderError as exc:
                breaker.failure()
                metrics.llm_error(model.name, _kind(exc))
                raise
            finally:
                await _close(chunks)
            breaker.success()
            return
        raise ProviderError("; ".join(errors))


def _kind(exc: ProviderError) -> str:
    if isinstance(exc, ProviderTimeout):
        return "timeout"
    if isinstance(exc, ProviderRateLimited):
        return "rate_limited"
    if isinstance(exc, ProviderBadResponse):
        return "bad_response"
    return "error"


async def _close(chunks: AsyncIterator[StreamChunk]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()
