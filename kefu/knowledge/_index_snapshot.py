"""What a query reads of the knowledge index: the chunks with their lexicon, and the
:class:`Snapshot` swapped in as one reference by every build or load (``index.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kefu.core.errors import InvalidParam
from kefu.core.types import Chunk
from kefu.knowledge._dense_passages import ChunkVectors
from kefu.knowledge._faq import FaqIndex
from kefu.knowledge._lexicon import Lexicon
from kefu.knowledge.calibration import FaqCalibration
from kefu.knowledge.embedders.base import Embedder
from kefu.knowledge.faq_classifier import ClassifierFusion
from kefu.knowledge.passage_calibration import PassageCalibration
from kefu.knowledge.tokenizer import detect_language, tokenize
from kefu.knowledge.vectors.base import normalise_filters
from kefu.knowledge.vectors.embedded import EmbeddedVectorIndex

__all__ = ["ChunkIndex", "Snapshot", "chunk_texts", "load_vectors", "vector_index"]

_PASSAGE_FILTERS = frozenset({"document_id", "language"})


@dataclass(frozen=True, slots=True)
class ChunkIndex:
    chunks: tuple[Chunk, ...]
    lexicon: Lexicon
    _languages: list[str] = field(default_factory=list)  # filled on the first filter

    @classmethod
    def create(
        cls,
        chunks: Sequence[Chunk],
        saved: Path | None = None,
        tokens: Sequence[Sequence[str]] | None = None,
    ) -> ChunkIndex:
        """Index the heading and text of ``chunks`` (already tokenized: ``tokens``), or load
        the lexicon ``saved`` for them."""
        if saved is not None:
            lexicon = Lexicon.load(saved, len(chunks), None)
        else:
            if tokens is None:
                tokens = [tokenize(text) for text in chunk_texts(chunks)]
            lexicon = Lexicon.build(tokens, None)
        return cls(tuple(chunks), lexicon)

    def allowed(self, filters: Mapping[str, Any]) -> np.ndarray:
        """A boolean mask of the chunks that pass ``filters`` (document_id, language)."""
        wanted = normalise_filters(filters)
        unknown = set(wanted) - _PASSAGE_FILTERS
        if unknown:
            raise InvalidParam("passages can be filtered by document_id and language only")
        mask = np.ones(len(self.chunks), dtype=bool)
        if "document_id" in wanted:
            ids = set(wanted["document_id"])
            mask &= np.fromiter((c.document_id in ids for c in self.chunks), dtype=bool)
        if "language" in wanted:
            if not self._languages and self.chunks:
                self._languages.extend(detect_language(c.content) for c in self.chunks)
            languages = set(wanted["language"])
            mask &= np.fromiter((lang in languages for lang in self._languages), dtype=bool)
        return mask


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a query reads, swapped in as one reference."""

    faq: FaqIndex
    chunks: ChunkIndex
    fingerprint: str | None
    faq_vectors: EmbeddedVectorIndex | None = None  # one row per FAQ form
    chunk_vectors: ChunkVectors | None = None  # one row per chunk (embedded or remote)
    faq_hubness: np.ndarray | None = None  # per FAQ form (_faq_fusion.form_hubness)
    calibration: FaqCalibration = field(default_factory=lambda: FaqCalibration({}))
    passage_calibration: PassageCalibration = field(default_factory=lambda: PassageCalibration({}))
    faq_fusion: ClassifierFusion | None = None  # the FAQ classifier (faq_classifier.py)
    faq_extra_encoder: Embedder | None = None  # the classifier's second encoder, if it reads one


def chunk_texts(chunks: Sequence[Chunk]) -> list[str]:
    """What is tokenized and embedded of each chunk: its heading and its text."""
    return [f"{c.heading}\n{c.content}" for c in chunks]


def vector_index(dim: int, matrix: np.ndarray) -> EmbeddedVectorIndex:
    """An in-memory vector index whose row i is ``matrix[i]`` (id ``str(i)``)."""
    index = EmbeddedVectorIndex(dim)
    if len(matrix):
        index.add([str(i) for i in range(len(matrix))], matrix)
    return index


def load_vectors(folder: Path, rows: int) -> EmbeddedVectorIndex:
    """The vector index saved in ``folder``; ValueError unless it holds ``rows`` rows."""
    vectors = EmbeddedVectorIndex.open(folder)
    if vectors.count != rows:
        raise ValueError(f"{folder} holds {vectors.count} vectors, not {rows}")
    return vectors
