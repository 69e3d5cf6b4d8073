"""Combining lexical and dense evidence into one relevance in [0, 1].

A cosine means different things for different models, so it is first *calibrated*: mapped
linearly from ``dense_floor`` (unrelated → 0) to ``dense_ceiling`` (same meaning → 1).
Then, per candidate:

* ``weighted``: relevance = ``(1 - w) · lexical + w · dense``; candidates are ranked by it.
  Both sides must agree for a high value, so the thresholds keep their meaning.
* ``rrf``: candidates are ranked by reciprocal rank fusion (``Σ 1 / (k + rank)`` over the
  lexical and the dense ranking); relevance is the larger of the two, so either retriever
  alone can vouch for a hit (more recall, less precision than ``weighted``).
* dense only: relevance is the calibrated cosine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from kefu.appfile.embedding_config import RetrievalConfig
from kefu.core.errors import ConfigError

__all__ = ["Fusion"]


@dataclass(frozen=True, slots=True)
class Fusion:
    retrievers: Literal["dense", "hybrid"]
    mode: Literal["weighted", "rrf"]
    dense_weight: float
    rrf_k: int
    floor: float
    ceiling: float

    @classmethod
    def from_config(
        cls,
        config: RetrievalConfig,
        retrievers: Literal["dense", "hybrid"],
        cosine_range: tuple[float, float] = (0.45, 0.95),
    ) -> Fusion:
        """``cosine_range``: the embedder's measured (floor, ceiling), used where the config
        leaves ``dense_floor`` / ``dense_ceiling`` unset."""
        floor = cosine_range[0] if config.dense_floor is None else config.dense_floor
        ceiling = cosine_range[1] if config.dense_ceiling is None else config.dense_ceiling
        if ceiling <= floor:
            raise ConfigError(
                "dense_ceiling must be above dense_floor", key="retrieval.dense_ceiling"
            )
        return cls(retrievers, config.fusion, config.dense_weight, config.rrf_k, floor, ceiling)

    @property
    def reads_bm25(self) -> bool:
        """Whether :meth:`fuse` reads its ``bm25`` argument (only rrf does, to order lexical
        ties): a caller may pass zeros otherwise and skip computing it."""
        return self.retrievers != "dense" and self.mode == "rrf"

    # The array methods ``clip`` and ``round`` are what ``np.clip`` and ``np.round`` call,
    # without their dispatch wrapper (~1-2 µs each, a few times a turn).
    def calibrate(self, cosine: np.ndarray) -> np.ndarray:
        result: np.ndarray = ((cosine - self.floor) / (self.ceiling - self.floor)).clip(0, 1)
        return result

    def fuse(
        self, lexical: np.ndarray, bm25: np.ndarray, cosine: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(relevance, ranking key) for candidates given their lexical relevance, BM25
        score and cosine (aligned arrays)."""
        cosine = cosine.astype(np.float64)
        dense = self.calibrate(cosine)
        if self.retrievers == "dense":
            return dense.round(4), cosine
        if self.mode == "weighted":
            relevance = ((1 - self.dense_weight) * lexical + self.dense_weight * dense).round(4)
            return relevance, relevance
        count = len(lexical)
        lexical_rank = np.empty(count)
        lexical_rank[np.lexsort((-bm25, -lexical))] = np.arange(1, count + 1)
        dense_rank = np.empty(count)
        dense_rank[np.argsort(-cosine, kind="stable")] = np.arange(1, count + 1)
        fused = np.where(lexical > 0, 1 / (self.rrf_k + lexical_rank), 0.0)
        fused += 1 / (self.rrf_k + dense_rank)
        return np.maximum(lexical, dense).round(4), fused
