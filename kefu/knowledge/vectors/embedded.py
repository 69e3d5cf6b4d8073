"""The embedded vector index: one float32 matrix, exact cosine by one matrix product.

Brute force is exact and fast enough for a customer-service knowledge base: 100k chunks ×
384 dimensions is 150 MB and one query is a single matrix–vector product (bench/retrieval.py
measures it). Persisted as ``vectors-<id>.npy`` plus ``rows.json`` in its folder; the JSON
is written last and names the matrix, so a crash leaves the old pair or the new one.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kefu.core.errors import InvalidParam
from kefu.knowledge.vectors.base import (
    VectorMetadata,
    check_query,
    check_vectors,
    normalise_filters,
)

__all__ = ["EmbeddedVectorIndex"]

_ROWS = "rows.json"


class EmbeddedVectorIndex:
    """A numpy brute-force :class:`~kefu.knowledge.vectors.VectorIndex`.

    ``path``: a folder to persist to on :meth:`flush` (and to load from, if it holds an
    index); None keeps the index in memory only.
    """

    def __init__(self, dim: int, path: Path | None = None) -> None:
        if dim < 1:
            raise InvalidParam("a vector index needs a dimension of at least 1")
        self._dim = dim
        self.path = path
        self._vectors: npt.NDArray[np.float32] = np.zeros((0, dim), dtype=np.float32)
        self._ids: list[str] = []
        self._rows: dict[str, int] = {}
        self._document: list[str] = []
        self._language: list[str] = []
        self._tags: list[tuple[str, ...]] = []
        if path is not None and (path / _ROWS).is_file():
            self._load(path)

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def count(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._ids)

    @property
    def matrix(self) -> npt.NDArray[np.float32]:
        """Every stored unit vector, one row per id in insertion order (do not modify)."""
        return self._vectors

    def add(
        self,
        ids: Sequence[str],
        vectors: npt.NDArray[np.float32],
        metadata: Sequence[VectorMetadata] | None = None,
    ) -> None:
        unit = check_vectors(self._dim, ids, vectors, metadata)
        rows = metadata or [VectorMetadata()] * len(ids)
        replaced = [(i, self._rows[key]) for i, key in enumerate(ids) if key in self._rows]
        if replaced:
            self._vectors = np.array(self._vectors)  # a loaded matrix is a read-only map
            for i, row in replaced:
                self._vectors[row] = unit[i]
                self._set_metadata(row, rows[i])
        fresh = [i for i, key in enumerate(ids) if key not in self._rows]
        if fresh:
            self._vectors = np.concatenate([self._vectors, unit[fresh]])
            for i in fresh:
                self._rows[ids[i]] = len(self._ids)
                self._ids.append(ids[i])
                self._document.append("")
                self._language.append("")
                self._tags.append(())
                self._set_metadata(len(self._ids) - 1, rows[i])

    def search(
        self,
        vector: npt.NDArray[np.float32],
        top_k: int,
        filters: Mapping[str, Any] | None = None,
    ) -> list[tuple[str, float]]:
        query = check_query(self._dim, vector)
        wanted = normalise_filters(filters)
        if top_k <= 0 or not self._ids:
            return []
        scores = self._vectors @ query
        if wanted:
            scores = np.where(self._mask(wanted), scores, -np.inf)
        if top_k < len(scores):
            top = np.argpartition(-scores, top_k)[:top_k]
        else:
            top = np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self._ids[i], float(scores[i])) for i in top.tolist() if scores[i] > -np.inf]

    def similarities(self, vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The cosine of ``vector`` with every stored row, in insertion order."""
        result: npt.NDArray[np.float32] = self._vectors @ check_query(self._dim, vector)
        return result

    @classmethod
    def open(cls, folder: Path) -> EmbeddedVectorIndex:
        """The index saved in ``folder``, whatever its dimension (OSError if there is none)."""
        rows = json.loads((folder / _ROWS).read_text("utf-8"))
        return cls(int(rows["dim"]), folder)

    def delete(self, ids: Sequence[str]) -> None:
        gone = sorted({self._rows[key] for key in ids if key in self._rows})
        if not gone:
            return
        keep = np.ones(len(self._ids), dtype=bool)
        keep[gone] = False
        self._vectors = self._vectors[keep]
        kept = keep.tolist()
        self._ids = [key for key, k in zip(self._ids, kept, strict=True) if k]
        self._document = [v for v, k in zip(self._document, kept, strict=True) if k]
        self._language = [v for v, k in zip(self._language, kept, strict=True) if k]
        self._tags = [v for v, k in zip(self._tags, kept, strict=True) if k]
        self._rows = {key: row for row, key in enumerate(self._ids)}

    def flush(self) -> None:
        if self.path is not None:
            self.save(self.path)

    def close(self) -> None:
        """Nothing to release (the memory map goes with the object)."""

    def save(self, folder: Path) -> None:
        """Write the index to ``folder`` (a matrix file, then the rows file naming it)."""
        folder.mkdir(parents=True, exist_ok=True)
        previous = _matrix_name(folder)
        name = f"vectors-{uuid.uuid4().hex[:12]}.npy"
        np.save(folder / name, np.ascontiguousarray(self._vectors))
        rows = {
            "dim": self._dim,
            "matrix": name,
            "ids": self._ids,
            "document_id": self._document,
            "language": self._language,
            "tags": [list(tags) for tags in self._tags],
        }
        staging = folder / f".{_ROWS}.{uuid.uuid4().hex[:8]}"
        staging.write_text(json.dumps(rows, ensure_ascii=False), "utf-8")
        os.replace(staging, folder / _ROWS)
        if previous and previous != name:
            (folder / previous).unlink(missing_ok=True)

    def _load(self, folder: Path) -> None:
        rows = json.loads((folder / _ROWS).read_text("utf-8"))
        if rows["dim"] != self._dim:
            raise InvalidParam(f"{folder} holds {rows['dim']}-dimensional vectors, not {self._dim}")
        vectors = np.load(folder / rows["matrix"], mmap_mode="r")
        if vectors.shape != (len(rows["ids"]), self._dim) or vectors.dtype != np.float32:
            raise ValueError(f"{folder}: the matrix does not match its rows")
        self._vectors = vectors
        self._ids = list(rows["ids"])
        self._rows = {key: row for row, key in enumerate(self._ids)}
        self._document = list(rows["document_id"])
        self._language = list(rows["language"])
        self._tags = [tuple(tags) for tags in rows["tags"]]

    def _set_metadata(self, row: int, metadata: VectorMetadata) -> None:
        self._document[row] = str(metadata.get("document_id", ""))
        self._language[row] = str(metadata.get("language", ""))
        self._tags[row] = tuple(metadata.get("tags", ()))

    def _mask(self, wanted: dict[str, tuple[str, ...]]) -> npt.NDArray[np.bool_]:
        mask = np.ones(len(self._ids), dtype=bool)
        for field, values in wanted.items():
            accepted = set(values)
            if field == "tags":
                found = [not accepted.isdisjoint(tags) for tags in self._tags]
            else:
                column = self._document if field == "document_id" else self._language
                found = [value in accepted for value in column]
            mask &= np.fromiter(found, dtype=bool, count=len(found))
        return mask


def _matrix_name(folder: Path) -> str | None:
    try:
        name = json.loads((folder / _ROWS).read_text("utf-8"))["matrix"]
    except (OSError, ValueError, KeyError):
        return None
    return str(name)
