"""Token-bucket rate limits, in process (one bucket per key; Redis can replace it later).

Hand-written rather than a library: the limiter sits on the hot path of every request, and a
bucket is four lines of arithmetic; the libraries found wrap the same idea in middleware that
cannot see who the end user is.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["TokenBuckets"]


class TokenBuckets:
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
