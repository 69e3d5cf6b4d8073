"""The semantic cache's lookup shortcut (score the few reusable rows before the whole
matrix) finds exactly what scoring every row finds, however the rows are arranged."""

from __future__ import annotations

import random
from collections.abc import Hashable

import numpy as np

from kefu.engine.route_cache import RouteDecision
from kefu.engine.semantic_cache import SemanticRouteCache


def reference_get(
    cache: SemanticRouteCache, bucket: Hashable, vector: np.ndarray, words: frozenset[str]
) -> str | None:
    """The lookup as it was written before the shortcut: every row scored, the four most
    similar of the bucket's fresh rows above the threshold checked in order."""
    assert cache._vectors is not None
    cosines = cache._vectors[: cache._filled] @ vector
    rows = [
        row
        for row in range(cache._filled)
        if cosines[row] >= cache.threshold and cache._buckets[row] == hash(bucket)
    ]
    rows.sort(key=lambda row: -cosines[row])
    for row in rows[:4]:
        entry = cache._entries[row]
        if entry is not None and entry.bucket == bucket and cache._overlaps(entry.words, words):
            return entry.question
    return None


def test_the_shortcut_finds_what_scoring_every_row_finds() -> None:
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
    for min_overlap in (0.0, 0.5, 1.0):
        cache = SemanticRouteCache(size=64, threshold=0.9, ttl_s=600, min_overlap=min_overlap)
        for n in range(400):
            bucket, vector, words = question()
            hit = cache.get(bucket, vector, words)
            if cache._vectors is not None:
                expected = reference_get(cache, bucket, vector, words)
                assert (hit.question if hit else None) == expected
                found += hit is not None
            cache.put(bucket, vector, f"q{n}", decision, words)
    assert found > 100  # the comparison covered hits, not only misses
