"""The semantic cache's lookup: the most similar of the rows that could be reused (same
bucket, not expired, enough content words shared) wins when it reaches the threshold. Only
those rows are scored; the result is what scoring every row and filtering would give,
however the rows are arranged."""

from __future__ import annotations

import random
from collections.abc import Hashable

import numpy as np

from kefu.engine.route_cache import RouteDecision
from kefu.engine.semantic_cache import SemanticRouteCache

EDGE = 1e-5  # a gather and a whole-matrix product may round a cosine's last bits apart


def reference_get(
    cache: SemanticRouteCache, bucket: Hashable, vector: np.ndarray, words: frozenset[str]
) -> tuple[str | None, float]:
    """Every row scored, then filtered: the most similar row of the bucket, stored within
    the TTL, sharing enough words, at or above the threshold (its question, or None) and
    that row's cosine."""
    assert cache._vectors is not None
    cosines = cache._vectors[: cache._filled] @ vector
    cutoff = cache._clock() - cache.ttl_s
    eligible = [
        row
        for row in range(cache._filled)
        if (entry := cache._entries[row]) is not None
        and entry.bucket == bucket
        and cache._stored[row] >= cutoff
        and cache._overlaps(entry.words, words)
    ]
    if not eligible:
        return None, -1.0
    best = max(eligible, key=lambda row: cosines[row])
    entry = cache._entries[best]
    assert entry is not None
    cosine = float(cosines[best])
    return (entry.question if cosine >= cache.threshold else None), cosine


def test_the_lookup_finds_what_scoring_every_row_finds() -> None:
    rng = random.Random(7)
    generator = np.random.default_rng(7)
    centres = generator.normal(size=(6, 16)).astype(np.float32)
    vocabulary = [f"w{n}" for n in range(8)]

    def question() -> tuple[Hashable, np.ndarray, frozenset[str]]:
        # near one of a few centres, so many rows pass the threshold, with few words
        vector = centres[rng.randrange(6)] + generator.normal(scale=0.15, size=16)
        vector = (vector / np.linalg.norm(vector)).astype(np.float32)
        words = frozenset(rng.sample(vocabulary, rng.randrange(0, 4)))
        return ("zh", rng.choice(["", "refund"]), ()), vector, words

    decision = RouteDecision("fallback", (), (), {})
    found = 0
    now = [0.0]  # a clock the test moves: rows expire within the run
    for min_overlap in (0.0, 0.5, 1.0):
        cache = SemanticRouteCache(
            size=64, threshold=0.9, ttl_s=40, min_overlap=min_overlap, clock=lambda: now[0]
        )
        for n in range(400):
            now[0] += 1.0
            bucket, vector, words = question()
            hit = cache.get(bucket, vector, words)
            if cache._vectors is not None:
                expected, cosine = reference_get(cache, bucket, vector, words)
                if abs(cosine - cache.threshold) > EDGE:
                    assert (hit.question if hit else None) == expected
                found += hit is not None
            cache.put(bucket, vector, f"q{n}", decision, words)
    assert found > 100  # the comparison covered hits, not only misses


def test_a_reusable_row_is_found_behind_many_closer_rows_that_are_not() -> None:
    """Five closer rows that do not share the question's words (so cannot be reused) do not
    hide the reusable one behind them (a lookup that checked only the four most similar rows
    of the whole matrix missed it)."""
    decision = RouteDecision("fallback", (), (), {})
    cache = SemanticRouteCache(size=32, threshold=0.8, ttl_s=600, min_overlap=1.0)
    base = np.zeros(8, dtype=np.float32)
    base[0] = 1.0

    def near(tilt: float) -> np.ndarray:
        vector = base.copy()
        vector[1] = tilt
        return (vector / np.linalg.norm(vector)).astype(np.float32)

    bucket = ("zh", "", ())
    cache.put(bucket, near(0.4), "reusable", decision, frozenset({"退货", "运费"}))
    for n in range(5):
        cache.put(bucket, near(0.01 * n), f"other {n}", decision, frozenset({"换货"}))
    hit = cache.get(bucket, base, frozenset({"退货", "运费"}))
    assert hit is not None and hit.question == "reusable"
    assert hit.cosine == np.float32(near(0.4) @ base)
    assert cache.get(bucket, base, frozenset({"发票"})) is None  # shares no row's words
