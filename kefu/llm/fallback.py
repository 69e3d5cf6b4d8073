"""A chain of models tried in order, each behind a circuit breaker.

A model that keeps failing is skipped for a while instead of being hammered on every
customer message; when every model in the chain is unavailable the caller falls back to
the extractive answer, so a dead LLM never leaves a customer without a reply.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from kefu.appfile.llm_config import SamplingConfig
from kefu.core.errors import ProviderError
from kefu.llm.base import ChatMessage, ChatModel, Completion, StreamChunk

__all__ = ["CircuitBreaker", "FallbackChain"]

log = logging.getLogger(__name__)


class CircuitBreaker:
    """Closed → open after ``failures`` in a row → half-open after ``reset_s`` (one trial)."""

    def __init__(
        self, failures: int, reset_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = failures
        self._reset_s = reset_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half-open" if self._clock() - self._opened_at >= self._reset_s else "open"

    def allow(self) -> bool:
        return self.state != "open"

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None

    def failure(self) -> None:
        self._failures += 1
        if self._failures >= self._threshold or self._opened_at is not None:
            self._opened_at = self._clock()


class FallbackChain:
    """``ChatModel`` that tries each model in turn until one answers.

    A stream falls over to the next model only before its first chunk; a failure after
    that is raised, and the engine replaces the partial answer.
    """

    def __init__(self, models: Sequence[ChatModel], failures: int = 3, reset_s: float = 30.0):
        if not models:
            raise ValueError("a fallback chain needs at least one model")
        self.models = list(models)
        self.breakers = [CircuitBreaker(failures, reset_s) for _ in self.models]
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
            raise ProviderError("every model is unavailable (circuit open)")
        return available

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        sampling: SamplingConfig,
        tools: Sequence[dict[str, Any]] | None = None,
    ) -> Completion:
        errors: list[str] = []
        for model, breaker in self._available():
            try:
                completion = await model.complete(messages, sampling, tools)
            except ProviderError as exc:
                breaker.failure()
                errors.append(exc.message)
                log.warning("model failed, trying the next: %s", exc.message)
                continue
            breaker.success()
            self.last_used = model.name
            return completion
        raise ProviderError("; ".join(errors))

    async def stream(
        self, messages: Sequence[ChatMessage], sampling: SamplingConfig
    ) -> AsyncIterator[StreamChunk]:
        errors: list[str] = []
        for model, breaker in self._available():
            chunks = model.stream(messages, sampling)
            try:
                first = await anext(chunks)
            except StopAsyncIteration:
                breaker.success()
                self.last_used = model.name
                return
            except ProviderError as exc:
                breaker.failure()
                errors.append(exc.message)
                log.warning("model failed, trying the next: %s", exc.message)
                await _close(chunks)
                continue
            self.last_used = model.name
            try:
                yield first
                async for chunk in chunks:
                    yield chunk
            except ProviderError:
                breaker.failure()
                raise
            finally:
                await _close(chunks)
            breaker.success()
            return
        raise ProviderError("; ".join(errors))


async def _close(chunks: AsyncIterator[StreamChunk]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()
