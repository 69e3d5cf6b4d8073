"""The conformance suite for :class:`~kefu.core.caches.Cache`.

Subclass :class:`CacheConformance` and override ``make_cache``: given a size, a fresh, empty
cache of that size (for a shared cache, one that other tests do not see). ``replica`` makes
a second handle on the same entries; by default the same object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kefu.core.caches import Cache

__all__ = ["CacheConformance", "CacheMaker"]

CacheMaker = Callable[[int], Cache[Any, Any]]


class CacheConformance:
    """Behaviour every cache for pure, repeatable work must show."""

    @pytest.fixture
    def make_cache(self) -> CacheMaker:
        raise NotImplementedError

    @pytest.fixture
    def cache(self, make_cache: CacheMaker) -> Cache[Any, Any]:
        return make_cache(3)

    @pytest.fixture
    def replica(self, cache: Cache[Any, Any]) -> Cache[Any, Any]:
        return cache

    def test_is_a_cache(self, cache: Cache[Any, Any]) -> None:
        assert isinstance(cache, Cache)

    def test_a_miss_is_none(self, cache: Cache[Any, Any]) -> None:
        assert cache.get("退货政策") is None

    def test_put_returns_the_value_and_get_finds_it(
        self, cache: Cache[Any, Any], replica: Cache[Any, Any]
    ) -> None:
        assert cache.put("退货政策", "7 天无理由") == "7 天无理由"
        assert replica.get("退货政策") == "7 天无理由"

    def test_tuple_keys_and_structured_values(self, cache: Cache[Any, Any]) -> None:
        cache.put(("refund", "en"), {"route": "faq", "ids": [1, 2]})
        assert cache.get(("refund", "en")) == {"route": "faq", "ids": [1, 2]}
        assert cache.get(("refund", "zh")) is None

    def test_a_put_replaces(self, cache: Cache[Any, Any]) -> None:
        cache.put("q", "old")
        cache.put("q", "new")
        assert cache.get("q") == "new"

    def test_size_zero_disables(self, make_cache: CacheMaker) -> None:
        cache = make_cache(0)
        assert cache.put("q", "answer") == "answer"
        assert cache.get("q") is None

    def test_bounded(self, make_cache: CacheMaker) -> None:
        cache = make_cache(2)
        for n in range(10):
            cache.put(f"q{n}", n)
        kept = [n for n in range(10) if cache.get(f"q{n}") is not None]
        assert len(kept) <= 2
        assert 9 in kept  # the newest entry survives
