"""Exact-question cache for routing decisions.

Customers ask the same questions over and over ("订单多久发货?"); the FAQ match and passage
search for a question only change when the knowledge does. This LRU keeps the decision per
cleaned question and language; it is replaced wholesale when the app's knowledge reloads.
(The semantic cache of DESIGN.md — similar questions, with an embedder — builds on it.)
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kefu.core.types import ChunkHit, FaqHit

__all__ = ["BoundedCache", "RouteDecision"]


@dataclass(frozen=True, slots=True)
class RouteDecision:
    route: str
    faq_hits: tuple[FaqHit, ...]
    passages: tuple[ChunkHit, ...]
    record: dict[str, Any]  # what the route stage wrote into the trace


K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """An LRU for pure, repeatable work on the event-loop thread (routing decisions, safety
    verdicts per question): the same customer questions come back again and again.
    ``size=0`` disables it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> V:
        if self.size > 0:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value
