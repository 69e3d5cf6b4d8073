"""Milvus as the vector index: milvus-lite in a local file, or a Milvus server, one client.

Optional: ``pip install 'kefu[milvus]'``. The collection holds ``id``, ``vector`` (cosine,
FLAT: exact, like the embedded index) and the filterable metadata fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kefu.core.errors import ConfigError, InvalidParam, RetrievalError
from kefu.knowledge.vectors.base import (
    VectorMetadata,
    check_query,
    check_vectors,
    normalise_filters,
)

__all__ = ["MilvusVectorIndex"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
_MAX_ID = 512
_MAX_TAGS = 64


class MilvusVectorIndex:
    """A :class:`~kefu.knowledge.vectors.VectorIndex` in a Milvus collection.

    ``uri``: a local ``.db`` file (milvus-lite) or ``http://host:19530`` (a server).
    The collection is created on first use; reopening one checks its dimension.
    """

    def __init__(
        self, uri: str | Path, dim: int, collection: str = "kefu_vectors", token: str = ""
    ) -> None:
        try:
            from pymilvus import DataType, MilvusClient
        except ImportError:
            raise ConfigError(
                "the Milvus vector index needs pymilvus: pip install 'kefu[milvus]'"
            ) from None
        if not _NAME.match(collection):
            raise ConfigError(f"invalid Milvus collection name {collection!r}")
        self._dim = dim
        self._collection = collection
        try:
            self._client = MilvusClient(str(uri), token=token)
            if self._client.has_collection(collection):
                self._check_dim()
            else:
                schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
                schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=_MAX_ID)
                schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
                schema.add_field("document_id", DataType.VARCHAR, max_length=_MAX_ID)
                schema.add_field("language", DataType.VARCHAR, max_length=16)
                schema.add_field(
                    "tags",
                    DataType.ARRAY,
                    element_type=DataType.VARCHAR,
                    max_capacity=_MAX_TAGS,
                    max_length=128,
                )
                params = self._client.prepare_index_params()
                params.add_index(field_name="vector", index_type="FLAT", metric_type="COSINE")
                self._client.create_collection(collection, schema=schema, index_params=params)
        except (InvalidParam, ConfigError):
            raise
        except Exception as exc:  # pymilvus raises MilvusException and gRPC errors
            raise RetrievalError(f"Milvus at {uri}: {exc}") from exc

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def count(self) -> int:
        rows = self._call(lambda c: c.query(self._collection, output_fields=["count(*)"]))
        return int(rows[0]["count(*)"])

    def add(
        self,
        ids: Sequence[str],
        vectors: npt.NDArray[np.float32],
        metadata: Sequence[VectorMetadata] | None = None,
    ) -> None:
        unit = check_vectors(self._dim, ids, vectors, metadata)
        rows = metadata or [VectorMetadata()] * len(ids)
        data = [
            {
                "id": key,
                "vector": vector.tolist(),
                "document_id": str(meta.get("document_id", "")),
                "language": str(meta.get("language", "")),
                "tags": list(meta.get("tags", ()))[:_MAX_TAGS],
            }
            for key, vector, meta in zip(ids, unit, rows, strict=True)
        ]
        if data:
            self._call(lambda c: c.upsert(self._collection, data))

    def search(
        self,
        vector: npt.NDArray[np.float32],
        top_k: int,
        filters: Mapping[str, Any] | None = None,
    ) -> list[tuple[str, float]]:
        query = check_query(self._dim, vector)
        expression = _expression(normalise_filters(filters))
        if top_k <= 0:
            return []
        found = self._call(
            lambda c: c.search(
                self._collection,
                data=[query.tolist()],
                limit=top_k,
                filter=expression,
                output_fields=["id"],
            )
        )
        return [(str(hit["id"]), float(hit["distance"])) for hit in found[0]]

    def fetch(self, ids: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
        """The stored (unit) vectors of these ids; unknown ids are left out."""
        if not ids:
            return {}
        rows = self._call(
            lambda c: c.get(self._collection, ids=list(ids), output_fields=["id", "vector"])
        )
        return {str(row["id"]): np.asarray(row["vector"], dtype=np.float32) for row in rows}

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._call(lambda c: c.delete(self._collection, ids=list(ids)))

    def flush(self) -> None:
        self._call(lambda c: c.flush(self._collection))

    def close(self) -> None:
        self._client.close()

    def _check_dim(self) -> None:
        fields = self._client.describe_collection(self._collection)["fields"]
        dims = [f["params"].get("dim") for f in fields if f["name"] == "vector"]
        if not dims or int(dims[0]) != self._dim:
            raise InvalidParam(
                f"Milvus collection {self._collection!r} holds {dims[0] if dims else '?'}"
                f"-dimensional vectors, not {self._dim}"
            )

    def _call(self, action: Any) -> Any:
        try:
            return action(self._client)
        except Exception as exc:
            raise RetrievalError(f"Milvus {self._collection}: {exc}") from exc


def _expression(wanted: dict[str, tuple[str, ...]]) -> str:
    """A Milvus boolean expression for the filters (values JSON-quoted, so escaped)."""
    parts = []
    for field, values in sorted(wanted.items()):
        quoted = "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"
        if field == "tags":
            parts.append(f"array_contains_any(tags, {quoted})")
        else:
            parts.append(f"{field} in {quoted}")
    return " and ".join(parts)
