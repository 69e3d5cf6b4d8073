"""Model calls at query time: awaited, bounded by the turn's deadline, degrading not failing.

A chat turn embeds its question and may rerank its passages. Those calls reach model
servers that can be slow, down or overloaded, so at query time they:

* never hold the event loop: an :class:`AsyncEmbedder` / :class:`AsyncReranker` is
  awaited, any other (local compute) runs in a worker thread;
* end by the turn's deadline, whatever the per-request timeout and retries would allow;
* never fail the turn: the caller answers lexically (no vector) or keeps the fused order
  (no rerank scores), and a :class:`Degraded` note says why;
* after a failure, skip the provider for a short cool-down, so an outage costs one turn the
  deadline rather than every turn.

Indexing (embedding every FAQ form and chunk) stays blocking: it runs in the CLI or a
worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

import numpy as np
import numpy.typing as npt
from anyio import to_thread

from kefu.core.errors import ProviderError, ProviderRateLimited, ProviderTimeout
from kefu.knowledge.embedders.base import AsyncEmbedder, Embedder
from kefu.knowledge.rerank import AsyncReranker, Reranker

__all__ = [
    "COOLDOWN_S",
    "QUERY_DEADLINE_S",
    "Cooldown",
    "Degraded",
    "ProviderGuard",
    "embed_query",
    "rerank_scores",
]

logger = logging.getLogger(__name__)

QUERY_DEADLINE_S = 3.0  # a turn's budget for its embedder and reranker calls together
COOLDOWN_S = 10.0  # a provider that failed is skipped this long, then tried again

_HTTP_WHAT = ("embeddings", "rerank")  # how the HTTP clients name their calls in errors

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Degraded:
    """Why a turn retrieved with less than configured: ``what`` was unavailable."""

    what: str  # "embedder" | "reranker"
    reason: str  # "timeout", "rate limited", "… answered 500: …", "timeout (cooling down)"
    fallback: str  # what the turn used instead: "lexical" | "fused order"

    def __str__(self) -> str:
        return f"{self.what} unavailable: {self.reason} → {self.fallback}"


class Cooldown:
    """After a failure, :meth:`blocked` names it for ``seconds``; then one more try."""

    def __init__(self, seconds: float = COOLDOWN_S, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self.clock = clock
        self._reason: str | None = None
        self._until = 0.0

    def blocked(self) -> str | None:
        """The last failure's reason while cooling down, else None."""
        if self._reason is not None and self.clock() < self._until:
            return self._reason
        return None

    def failed(self, reason: str) -> None:
        self._reason = reason
        self._until = self.clock() + self.seconds

    def recovered(self) -> None:
        self._reason = None


class ProviderGuard:
    """Runs one provider's query-time calls: a failure becomes a :class:`Degraded` note and
    starts a cool-down, during which calls are skipped (and noted) without waiting."""

    def __init__(self, what: str, fallback: str, cooldown: Cooldown | None = None) -> None:
        self.what = what
        self.fallback = fallback
        self.cooldown = cooldown or Cooldown()

    async def call(self, work: Callable[[], Awaitable[T]], *, deadline: float) -> T | Degraded:
        """``work()``'s result, or why the turn does without it. A turn whose deadline an
        earlier call used up skips ``work`` without blaming the provider."""
        reason = self.cooldown.blocked()
        if reason is not None:
            return Degraded(self.what, f"{reason} (cooling down)", self.fallback)
        if deadline <= self.cooldown.clock():
            return Degraded(self.what, "no time left in this turn", self.fallback)
        try:
            result = await work()
        except ProviderError as exc:
            reason = _reason(exc)
            self.cooldown.failed(reason)
            logger.warning(
                "%s unavailable (%s): %s for %.0f s",
                self.what,
                exc,
                self.fallback,
                self.cooldown.seconds,
            )
            return Degraded(self.what, reason, self.fallback)
        self.cooldown.recovered()
        return result


@functools.cache
def _awaits(kind: type, protocol: type) -> bool:
    """Whether providers of ``kind`` are async (``protocol``: :class:`AsyncEmbedder`,
    :class:`AsyncReranker`), checked once per class: a Protocol ``isinstance`` costs more
    than the rest of a query's embedding call."""
    return issubclass(kind, protocol)


def _reason(exc: ProviderError) -> str:
    """A short reason for the trace: "timeout", "rate limited" or the provider's answer."""
    if isinstance(exc, ProviderTimeout):
        return "timeout"
    if isinstance(exc, ProviderRateLimited):
        return "rate limited"
    message = str(exc)
    for prefix in _HTTP_WHAT:
        message = message.removeprefix(f"{prefix}: ")
    return message


async def embed_query(embedder: Embedder, text: str, *, deadline: float) -> npt.NDArray[np.float32]:
    """``text``'s vector by ``deadline`` (``time.monotonic()``); ``ProviderError`` if not."""

    async def call() -> npt.NDArray[np.float32]:
        if _awaits(type(embedder), AsyncEmbedder):
            return await cast(AsyncEmbedder, embedder).aembed([text])
        return await to_thread.run_sync(embedder.embed, [text], abandon_on_cancel=True)

    vectors = await _within(deadline, call, "embeddings")
    return vectors[0]


async def rerank_scores(
    reranker: Reranker, query: str, texts: Sequence[str], *, deadline: float
) -> list[float]:
    """The reranker's scores for ``texts`` by ``deadline``; ``ProviderError`` if not."""

    async def call() -> list[float]:
        if _awaits(type(reranker), AsyncReranker):
            return await cast(AsyncReranker, reranker).arerank(query, texts)
        return await to_thread.run_sync(reranker.rerank, query, texts, abandon_on_cancel=True)

    return await _within(deadline, call, "rerank")


async def _within(deadline: float, call: Callable[[], Awaitable[T]], what: str) -> T:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ProviderTimeout(f"{what}: no time left in this turn")
    try:
        async with asyncio.timeout(remaining):
            return await call()
    except TimeoutError:
        raise ProviderTimeout(f"{what}: no answer within the turn's deadline") from None
