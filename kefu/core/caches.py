"""Caches for pure, repeatable work (routing decisions, safety verdicts).

:class:`Cache` is the interface; :class:`InMemoryCache` (``BoundedCache``) is the LRU each
process keeps. A shared (Redis) cache plugs in for replicas and must pass
:class:`kefu.testing.conformance.caches.CacheConformance`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, Protocol, TypeVar, runtime_checkable

__all__ = ["BoundedCache", "Cache", "InMemoryCache"]

K = TypeVar("K")
V = TypeVar("V")
K_contra = TypeVar("K_contra", contravariant=True)


@runtime_checkable
class Cache(Protocol[K_contra, V]):
    """A bounded cache of values by key; a cache built with size 0 holds nothing."""

    def get(self, key: K_contra) -> V | None:
        """The cached value, or None on a miss."""
        ...

    def put(self, key: K_contra, value: V) -> V:
        """Cache ``value`` (unless disabled) and return it."""
        ...


class InMemoryCache(Generic[K, V]):
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


# The name callers construct (``kefu.engine``): an in-process LRU.
BoundedCache = InMemoryCache
