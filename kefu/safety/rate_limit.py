"""Token-bucket rate limits: the :class:`RateLimits` interface and its in-process buckets.

The Redis implementation (:mod:`kefu.safety.redis_rate_limits`) plugs in for replicas, so
that a key's budget is one budget however many replicas its requests reach; both pass
:class:`kefu.testing.conformance.rate_limits.RateLimitsConformance`.

Hand-written rather than a library: the limiter sits on the hot path of every request, and a
bucket is four lines of arithmetic; the libraries found wrap the same idea in middleware that
cannot see who the end user is.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["InMemoryRateLimits", "RateLimits", "TokenBuckets"]


@runtime_checkable
class RateLimits(Protocol):
    """Token buckets by key: ``burst`` tokens, refilled at ``rate`` per second."""

    def take(self, key: str, rate: float, burst: int) -> float:
        """Take a token: 0 when one was available, else the seconds until one is (and
        nothing is taken)."""
        ...


class InMemoryRateLimits:
    """Buckets of ``burst`` tokens refilled at ``rate`` per second, one per key.

    ``take`` returns 0 when a token was available, else the seconds until one is. Idle
    buckets are forgotten beyond ``max_keys`` (least recently used first).
    """

    def __init__(self, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic):
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._max_keys = max_keys
        self._clock = clock

    def take(self, key: str, rate: float, burst: int) -> float:
        now = self._clock()
        tokens, stamp = self._buckets.pop(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - stamp) * rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._buckets[key] = (tokens, now)
            wait = (1.0 - tokens) / rate
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait


# The name callers constructed before the Protocol existed (``kefu.services.chat``, runtime).
TokenBuckets = InMemoryRateLimits
