"""The vector index protocol every store implements, and the checks they share.

Scores are cosine similarities in [-1, 1]. Metadata is limited to the fields filters can
use (``document_id``, ``language``, ``tags``) so the embedded index and Milvus agree on it.
A filter value is one value or a list of accepted values; ``tags`` matches when the row
has any of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypedDict, runtime_checkable

import numpy as np
import numpy.typing as npt

from kefu.core.errors import InvalidParam

__all__ = ["FILTER_FIELDS", "VectorIndex", "VectorMetadata", "check_vectors", "normalise_filters"]

FILTER_FIELDS = frozenset({"document_id", "language", "tags"})


class VectorMetadata(TypedDict, total=False):
    document_id: str
    language: str
    tags: Sequence[str]


@runtime_checkable
class VectorIndex(Protocol):
    """Nearest neighbours by cosine over unit vectors, with metadata filters."""

    @property
    def dim(self) -> int: ...

    @property
    def count(self) -> int:
        """How many vectors are stored."""
        ...

    def add(
        self,
        ids: Sequence[str],
        vectors: npt.NDArray[np.float32],
        metadata: Sequence[VectorMetadata] | None = None,
    ) -> None:
        """Insert (or replace, for an id already stored) one vector per id."""
        ...

    def search(
        self,
        vector: npt.NDArray[np.float32],
        top_k: int,
        filters: Mapping[str, Any] | None = None,
    ) -> list[tuple[str, float]]:
        """The ``top_k`` nearest ids with their cosine, best first."""
        ...

    def delete(self, ids: Sequence[str]) -> None:
        """Remove these ids (unknown ones are ignored)."""
        ...

    def flush(self) -> None:
        """Make everything added or deleted durable (a reopened index sees it)."""
        ...

    def close(self) -> None: ...


def check_vectors(
    dim: int, ids: Sequence[str], vectors: npt.ArrayLike, metadata: Sequence[Any] | None
) -> npt.NDArray[np.float32]:
    """Validate a batch for :meth:`VectorIndex.add`; returns unit-length float32 rows."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2 or array.shape[1] != dim:
        raise InvalidParam(f"vectors must have shape (n, {dim}), not {array.shape}")
    if array.shape[0] != len(ids):
        raise InvalidParam(f"{len(ids)} ids for {array.shape[0]} vectors")
    if metadata is not None and len(metadata) != len(ids):
        raise InvalidParam(f"{len(ids)} ids for {len(metadata)} metadata rows")
    if len(set(ids)) != len(ids):
        raise InvalidParam("duplicate ids in one batch")
    for row in metadata or ():
        unknown = set(row) - FILTER_FIELDS
        if unknown:
            raise InvalidParam(f"unknown metadata fields {sorted(unknown)}")
    return normalise(array)


def check_query(dim: int, vector: npt.ArrayLike) -> npt.NDArray[np.float32]:
    array = np.asarray(vector, dtype=np.float32).reshape(-1)
    if array.shape[0] != dim:
        raise InvalidParam(f"query vector has dimension {array.shape[0]}, the index {dim}")
    # What ``normalise`` does to one row (the same float32 sum of squares, square root and
    # division, so the same bits) without its 2-D round trip: every turn normalises its query.
    norm = np.sqrt(np.add.reduce(array * array))
    unit: npt.NDArray[np.float32] = array / (norm if norm > 0 else np.float32(1.0))
    return unit


def normalise(array: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    safe = np.where(norms > 0, norms, 1.0).astype(np.float32)
    return np.asarray(array / safe, dtype=np.float32)


def normalise_filters(filters: Mapping[str, Any] | None) -> dict[str, tuple[str, ...]]:
    """``{field: accepted values}``; a single value becomes a one-value tuple."""
    if not filters:
        return {}
    unknown = set(filters) - FILTER_FIELDS
    if unknown:
        raise InvalidParam(f"cannot filter on {sorted(unknown)} (only {sorted(FILTER_FIELDS)})")
    result: dict[str, tuple[str, ...]] = {}
    for field, value in filters.items():
        values = (value,) if isinstance(value, str) else tuple(value)
        if not all(isinstance(item, str) for item in values):
            raise InvalidParam(f"filter {field!r} takes a string or a list of strings")
        result[field] = values
    return result
