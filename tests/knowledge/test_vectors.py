"""The embedded numpy index and Milvus (milvus-lite) pass the same conformance suite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kefu.knowledge.vectors import EmbeddedVectorIndex, VectorIndex
from kefu.testing.conformance.vectors import (
    Opener,
    RemoteVectorIndexConformance,
    VectorIndexConformance,
)


class TestEmbeddedVectorIndex(VectorIndexConformance):
    @pytest.fixture
    def open_index(self) -> Opener:
        return lambda folder, dim: EmbeddedVectorIndex(dim, folder)


class TestMilvusVectorIndex(RemoteVectorIndexConformance):
    @pytest.fixture
    def open_index(self) -> Opener:
        pytest.importorskip("pymilvus")
        pytest.importorskip("milvus_lite")
        from kefu.knowledge.vectors.milvus import MilvusVectorIndex

        def open_milvus(folder: Path, dim: int) -> VectorIndex:
            folder.mkdir(parents=True, exist_ok=True)
            return MilvusVectorIndex(folder / "milvus.db", dim, collection="conformance")

        return open_milvus


def test_embedded_index_loads_memory_mapped_and_survives_a_rewrite(tmp_path: Path) -> None:
    index = EmbeddedVectorIndex(2, tmp_path)
    index.add(["a", "b"], np.asarray([[1, 0], [0, 1]], dtype=np.float32))
    index.flush()
    reopened = EmbeddedVectorIndex(2, tmp_path)
    reopened.add(["a"], np.asarray([[0, 1]], dtype=np.float32))  # replaces a mapped row
    reopened.flush()
    assert len(list(tmp_path.glob("vectors-*.npy"))) == 1  # the old matrix is gone
    assert EmbeddedVectorIndex(2, tmp_path).search(np.asarray([0, 1.0]), 2)[0][1] > 0.99
