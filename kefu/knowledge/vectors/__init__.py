"""Vector indexes: the embedded numpy index (default) and Milvus, behind one protocol."""

from __future__ import annotations

from kefu.knowledge.vectors.base import FILTER_FIELDS, VectorIndex, VectorMetadata
from kefu.knowledge.vectors.embedded import EmbeddedVectorIndex

__all__ = ["FILTER_FIELDS", "EmbeddedVectorIndex", "VectorIndex", "VectorMetadata"]
