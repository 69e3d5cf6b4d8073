"""The vectors a knowledge index build embeds, through the content-hash
:class:`~kefu.knowledge.embedders.cache.EmbeddingCache` persisted beside the index: so a
rebuild embeds only new texts, and a loaded index seeds the cache with its own vectors."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kefu.core.errors import RetrievalError
from kefu.core.types import Chunk
from kefu.knowledge._dense_passages import ChunkVectors, store_chunk_vectors
from kefu.knowledge._index_snapshot import chunk_texts, vector_index
from kefu.knowledge.build_report import BuildProgress
from kefu.knowledge.embedders.base import Embedder
from kefu.knowledge.embedders.cache import EmbeddingCache, EmbedStats
from kefu.knowledge.vectors.embedded import EmbeddedVectorIndex
from kefu.knowledge.vectors.store import VectorStore

__all__ = ["IndexEmbeddings"]

# The index's own logger: these steps log as they did before they left index.py.
logger = logging.getLogger("kefu.knowledge.index")


class IndexEmbeddings:
    """An index's embedding cache for ``embedder``: read from ``index_dir`` by a build when
    it first embeds, saved and dropped when the build ends (kept between builds only
    without an ``index_dir``)."""

    def __init__(self, embedder: Embedder, index_dir: Path | None) -> None:
        self.embedder = embedder
        self.index_dir = index_dir
        self._cache: EmbeddingCache | None = None

    def cache(self) -> EmbeddingCache:
        """The embedder's cache: the one saved in ``index_dir`` the first time, then kept."""
        if self._cache is None:
            if self.index_dir is not None:
                self._cache = EmbeddingCache.load(self.index_dir, self.embedder)
            else:
                self._cache = EmbeddingCache.for_embedder(self.embedder)
        return self._cache

    def embed(
        self, texts: Sequence[str], workers: int, progress: BuildProgress | None
    ) -> tuple[np.ndarray, EmbedStats]:
        """The vectors of ``texts``: from the cache, the rest embedded in batches."""
        cache = self.cache()
        if progress is None:
            return cache.embed(self.embedder, texts, workers=workers)
        return cache.embed(
            self.embedder,
            texts,
            workers=workers,
            on_start=lambda total: progress.start("embed", total),
            on_progress=lambda done: progress.advance("embed", done),
        )

    def stored_vectors(
        self,
        store: VectorStore,
        chunks: Sequence[Chunk],
        fingerprint: str,
        workers: int,
        progress: BuildProgress | None,
    ) -> tuple[ChunkVectors, EmbedStats]:
        """The passage vectors in the vector store (embedded through the cache only if the
        store lacks this version); if it fails, in memory for now (the next start finds
        them missing in the store and tries again)."""
        made: list[EmbedStats] = []

        def vectors() -> np.ndarray:
            matrix, stats = self.embed(chunk_texts(chunks), workers, progress)
            made.append(stats)
            return matrix

        dim = self.embedder.dim
        try:
            stored = store_chunk_vectors(store, dim, chunks, vectors, fingerprint)
        except RetrievalError as exc:
            logger.warning("vector store unavailable, passage vectors kept in memory: %s", exc)
            return vector_index(dim, vectors()), sum(made, EmbedStats())
        return stored, sum(made, EmbedStats())

    def keep_only(self, texts: Sequence[str]) -> None:
        """End a build: the cache keeps the vectors of ``texts`` only (deleted documents'
        go), saved in ``index_dir`` and dropped from memory."""
        if self._cache is None:
            return
        self._cache.retain(texts)
        if self.index_dir is not None:
            self._cache.save(self.index_dir)
            # On disk now: not held twice in memory beside the index between builds
            # (20 MB for 10k chunks of 512-d); the next build reads it back (~50 ms).
            self._cache = None

    def seed(
        self,
        forms: Sequence[str],
        chunks: Sequence[Chunk],
        faq_vectors: EmbeddedVectorIndex,
        chunk_vectors: ChunkVectors | None,
    ) -> None:
        """Fill the cache from a loaded index's vectors when it lacks them (an index saved
        before the cache existed, or a lost cache), so the next change to the knowledge
        embeds only what changed."""
        if self.index_dir is None:
            return
        texts, matrices = list(forms), [faq_vectors.matrix]
        if isinstance(chunk_vectors, EmbeddedVectorIndex):
            texts += chunk_texts(chunks)
            matrices.append(chunk_vectors.matrix)
        if EmbeddingCache.saved_count(self.index_dir, self.embedder) >= len(set(texts)):
            return  # saved by the build that wrote this index (it holds just its texts)
        cache = self.cache()
        added = cache.seed(texts, np.concatenate(matrices))
        if added:
            logger.info(
                "knowledge index in %s: %d vectors of the saved index kept in the embedding "
                "cache (saved before the cache existed, or the cache was lost)",
                self.index_dir,
                added,
            )
            cache.save(self.index_dir)
        self._cache = None  # read again by the next build
