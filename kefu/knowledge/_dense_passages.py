"""The dense half of passage search: the nearest chunks, and the cosine of any candidate.

Embedded: one matrix product scores every chunk. Remote (Milvus): the store returns the
nearest ``limit`` chunks under the same filters, then the vectors of those and of the
lexical candidates are fetched and scored here with the same float32 arithmetic as the
embedded index, so both pick the same passages with the same relevance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kefu.core.errors import RetrievalError
from kefu.core.types import Chunk
from kefu.knowledge.tokenizer import detect_language
from kefu.knowledge.vectors.base import check_query, normalise_filters
from kefu.knowledge.vectors.embedded import EmbeddedVectorIndex
from kefu.knowledge.vectors.store import RemoteVectorIndex, VectorStore, knowledge_key

__all__ = [
    "ChunkVectors",
    "DenseScores",
    "dense_scores",
    "open_chunk_vectors",
    "store_chunk_vectors",
]

_STORE_BATCH = 512  # chunks written to a vector store per request

ChunkVectors = EmbeddedVectorIndex | RemoteVectorIndex


@dataclass(frozen=True, slots=True)
class DenseScores:
    """``nearest``: the row numbers of the closest allowed chunks; ``cosine_of(rows)``: the
    cosine of the query with each of those rows (any rows, not only the nearest)."""

    nearest: npt.NDArray[np.int64]
    cosine_of: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float32]]


def dense_scores(
    vectors: ChunkVectors,
    query: npt.NDArray[np.float32],
    limit: int,
    allowed: npt.NDArray[np.bool_] | None,
    filters: Mapping[str, Any] | None,
) -> DenseScores:
    """The nearest ``limit`` chunks passing ``allowed`` (embedded) or ``filters`` (remote)."""
    if isinstance(vectors, EmbeddedVectorIndex):
        return _embedded(vectors, query, limit, allowed)
    return _remote(vectors, query, limit, filters)


def _embedded(
    vectors: EmbeddedVectorIndex,
    query: npt.NDArray[np.float32],
    limit: int,
    allowed: npt.NDArray[np.bool_] | None,
) -> DenseScores:
    cosine = vectors.similarities(query)
    if allowed is not None:
        cosine = np.where(allowed, cosine, -np.inf).astype(np.float32)
    if len(cosine) > limit:
        nearest = np.argpartition(-cosine, limit)[:limit]
    else:
        nearest = np.arange(len(cosine))
    nearest = np.sort(nearest[np.isfinite(cosine[nearest])])  # ties rank by row, as remote

    def cosine_of(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        return np.asarray(cosine[rows], dtype=np.float32)

    return DenseScores(nearest.astype(np.int64), cosine_of)


def _remote(
    vectors: RemoteVectorIndex,
    query: npt.NDArray[np.float32],
    limit: int,
    filters: Mapping[str, Any] | None,
) -> DenseScores:
    unit = check_query(vectors.dim, query)
    hits = vectors.search(unit, limit, normalise_filters(filters) or None)
    nearest = np.sort(np.fromiter((int(key) for key, _ in hits), dtype=np.int64, count=len(hits)))

    def cosine_of(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        keys = [str(row) for row in rows.tolist()]
        found = vectors.fetch(keys)
        missing = [key for key in keys if key not in found]
        if missing:
            raise RetrievalError(f"the vector store lacks chunks {missing[:5]}")
        if not keys:
            return np.zeros(0, dtype=np.float32)
        matrix = np.stack([found[key] for key in keys]).astype(np.float32)
        return np.asarray(matrix @ unit, dtype=np.float32)

    return DenseScores(nearest, cosine_of)


def store_chunk_vectors(
    store: VectorStore,
    dim: int,
    chunks: Sequence[Chunk],
    vectors: Callable[[], npt.NDArray[np.float32]],
    fingerprint: str,
) -> RemoteVectorIndex:
    """The chunks' vectors in ``store``: reused when another replica already stored this
    knowledge version, else ``vectors()`` (row i for ``chunks[i]``, through the embedding
    cache) written in batches; older versions are dropped."""
    key = knowledge_key(fingerprint)
    stored = store.open(key, dim)
    if stored.count != len(chunks):
        matrix = vectors()
        for start in range(0, len(chunks), _STORE_BATCH):
            part = chunks[start : start + _STORE_BATCH]
            stored.add(
                [str(row) for row in range(start, start + len(part))],
                matrix[start : start + _STORE_BATCH],
                # the language a passage filter matches, detected as ChunkIndex.allowed does
                [
                    {"document_id": c.document_id, "language": detect_language(c.content)}
                    for c in part
                ],
            )
        stored.flush()
    store.prune(key)
    return stored


def open_chunk_vectors(
    store: VectorStore, dim: int, fingerprint: str, rows: int
) -> RemoteVectorIndex:
    """The stored vectors of this knowledge version (ValueError if incomplete or missing)."""
    stored = store.open(knowledge_key(fingerprint), dim)
    if stored.count != rows:
        raise ValueError(f"the vector store holds {stored.count} passage vectors, not {rows}")
    return stored
