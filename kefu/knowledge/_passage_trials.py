"""The index side of the passage calibration (``passage_calibration.py``): where a
generated question is searched, with the same ranking as a chat turn, among the chunks of
its language, and again with the chunks that answer it left out (a mask, not a second
index: BM25's statistics keep the left-out chunks, a small bias for one build-time pass
instead of a rebuilt index per question)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from kefu.core.types import Chunk, ChunkHit, FaqEntry
from kefu.knowledge.passage_calibration import (
    PassageCalibration,
    PassageQuestion,
    calibrate_passages,
)

__all__ = ["Ranker", "fit_passage_thresholds"]

Mask = npt.NDArray[np.bool_]
# (text, its vector or None for lexical, the chunks allowed) → the best passages, ranked
Ranker = Callable[[str, npt.NDArray[np.float32] | None, Mask], list[ChunkHit]]


def fit_passage_thresholds(
    chunks: Sequence[Chunk],
    entries: Sequence[FaqEntry],
    language_mask: Callable[[str], Mask],
    rank: Ranker,
    lexical: Ranker,
    vectors: Callable[[Sequence[str]], list[npt.NDArray[np.float32] | None]],
    coverage_exponent: float,
) -> PassageCalibration:
    """The passage thresholds per language. ``rank`` ranks as a turn does (hybrid when the
    text has a vector); ``lexical`` finds the chunks quoting an FAQ answer by coverage (a
    lexical relevance is the coverage of the text raised to ``coverage_exponent``);
    ``vectors`` gives each question's vector (None: searched lexically)."""
    row_of = {chunk.id: row for row, chunk in enumerate(chunks)}

    def quoting(answer: str, language: str) -> list[tuple[str, float]]:
        hits = lexical(answer, None, language_mask(language))
        return [(hit.chunk.id, hit.relevance ** (1 / coverage_exponent)) for hit in hits]

    def search(
        questions: Sequence[PassageQuestion],
    ) -> list[tuple[list[ChunkHit], list[ChunkHit]]]:
        found: list[tuple[list[ChunkHit], list[ChunkHit]]] = []
        for question, vector in zip(questions, vectors([q.text for q in questions]), strict=True):
            allowed = language_mask(question.language)
            without: list[ChunkHit] = []
            if question.leave_out:
                left_out = np.zeros(len(chunks), dtype=bool)
                left_out[[row_of[c] for c in question.accepted]] = True
                without = rank(question.text, vector, allowed & ~left_out)
            found.append((rank(question.text, vector, allowed), without))
        return found

    return calibrate_passages(chunks, entries, quoting, search)
