"""Caches for pure, repeatable work (routing decisions, safety verdicts).

:class:`Cache` is the interface; :class:`InMemoryCache` (``BoundedCache``) is the LRU each
process keeps. A shared cache (:class:`~kefu.core.redis_cache.RedisCache`, behind this
process's LRU in a :class:`TieredCache`) plugs in for replicas; each passes
:class:`kefu.testing.conformance.caches.CacheConformance`. Owners make their caches through a
:data:`CacheFactory` (namespace, size), so the one setting KEFU_REDIS_URL picks where they live.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

__all__ = ["BoundedCache", "Cache", "CacheFactory", "InMemoryCache", "TieredCache", "in_memory"]

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


class TieredCache(Generic[K, V]):
    """This process's LRU in front of a shared cache: a hot question is answered from memory,
    a question another replica already worked out from the shared cache. Correct because
    the work is pure: a namespace's key always maps to the same value."""

    def __init__(self, local: Cache[K, V], shared: Cache[K, V]) -> None:
        self.local = local
        self.shared = shared

    def get(self, key: K) -> V | None:
        value = self.local.get(key)
        if value is None:
            value = self.shared.get(key)
            if value is not None:
                self.local.put(key, value)
        return value

    def put(self, key: K, value: V) -> V:
        self.local.put(key, value)
        return self.shared.put(key, value)


CacheFactory = Callable[[str, int], Cache[Any, Any]]
"""Makes a cache: (namespace, size) → cache. The namespace names the work and its inputs
(``<app id>:route:<knowledge revision>…``): a shared cache keeps namespaces apart."""


def in_memory(namespace: str, size: int) -> Cache[Any, Any]:
    """The :data:`CacheFactory` of one process: an LRU per cache (the namespace is moot)."""
    return InMemoryCache(size)
