"""One conformance suite for every VectorIndex: subclass it and override ``open_index``.

``open_index(folder, dim)`` opens (or reopens) the index persisted under ``folder``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from kefu.core.errors import InvalidParam
from kefu.knowledge.vectors import VectorIndex

Opener = Callable[[Path, int], VectorIndex]


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def batch(*rows: tuple[float, ...]) -> np.ndarray:
    return np.stack([unit(*row) for row in rows])


class VectorIndexConformance:
    """Behaviour both the embedded index and Milvus must show."""

    @pytest.fixture
    def open_index(self) -> Opener:
        raise NotImplementedError

    @pytest.fixture
    def index(self, open_index: Opener, tmp_path: Path) -> VectorIndex:
        index = open_index(tmp_path / "vectors", 4)
        index.add(
            ["a", "b", "c"],
            batch((1, 0, 0, 0), (0.8, 0.6, 0, 0), (0, 0, 1, 0)),
            [
                {"document_id": "returns.md", "language": "zh", "tags": ["policy"]},
                {"document_id": "returns.md", "language": "en", "tags": ["policy", "faq"]},
                {"document_id": "shipping.md", "language": "zh", "tags": []},
            ],
        )
        return index

    def test_is_a_vector_index(self, index: VectorIndex) -> None:
        assert isinstance(index, VectorIndex)
        assert (index.dim, index.count) == (4, 3)

    def test_search_returns_cosine_best_first(self, index: VectorIndex) -> None:
        hits = index.search(unit(1, 0, 0, 0), top_k=2)
        assert [key for key, _ in hits] == ["a", "b"]
        assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
        assert hits[1][1] == pytest.approx(0.8, abs=1e-5)

    def test_vectors_are_normalised(self, open_index: Opener, tmp_path: Path) -> None:
        index = open_index(tmp_path / "scaled", 2)
        index.add(["long"], np.asarray([[30.0, 40.0]], dtype=np.float32))
        [(key, score)] = index.search(np.asarray([3.0, 4.0], dtype=np.float32), top_k=5)
        assert key == "long" and score == pytest.approx(1.0, abs=1e-5)

    def test_top_k_limits_and_zero_returns_nothing(self, index: VectorIndex) -> None:
        assert len(index.search(unit(1, 1, 1, 0), top_k=10)) == 3
        assert len(index.search(unit(1, 1, 1, 0), top_k=1)) == 1
        assert index.search(unit(1, 1, 1, 0), top_k=0) == []

    def test_metadata_filters(self, index: VectorIndex) -> None:
        cases: list[tuple[dict[str, object], list[str]]] = [
            ({"document_id": "returns.md"}, ["a", "b"]),
            ({"document_id": ["shipping.md", "nope"]}, ["c"]),
            ({"language": "en"}, ["b"]),
            ({"tags": "faq"}, ["b"]),
            ({"tags": ["faq", "policy"]}, ["a", "b"]),
            ({"document_id": "returns.md", "language": "zh"}, ["a"]),
            ({"language": "fr"}, []),
        ]
        for filters, expected in cases:
            hits = index.search(unit(1, 0.1, 0.1, 0), top_k=10, filters=filters)
            assert sorted(key for key, _ in hits) == expected, filters

    def test_unknown_filter_fields_are_refused(self, index: VectorIndex) -> None:
        with pytest.raises(InvalidParam, match="cannot filter on"):
            index.search(unit(1, 0, 0, 0), top_k=3, filters={"author": "x"})

    def test_adding_an_existing_id_replaces_it(self, index: VectorIndex) -> None:
        index.add(["a"], batch((0, 0, 0, 1)), [{"document_id": "moved.md"}])
        assert index.count == 3
        assert index.search(unit(0, 0, 0, 1), top_k=1)[0][0] == "a"
        assert [k for k, _ in index.search(unit(0, 0, 0, 1), 5, {"document_id": "moved.md"})] == [
            "a"
        ]

    def test_delete(self, index: VectorIndex) -> None:
        index.delete(["a", "unknown"])
        assert index.count == 2
        assert [key for key, _ in index.search(unit(1, 0, 0, 0), top_k=5)] == ["b", "c"]
        index.delete([])
        assert index.count == 2

    def test_persists_and_reopens(
        self, index: VectorIndex, open_index: Opener, tmp_path: Path
    ) -> None:
        index.delete(["c"])
        index.flush()
        index.close()
        reopened = open_index(tmp_path / "vectors", 4)
        assert reopened.count == 2
        hits = reopened.search(unit(1, 0, 0, 0), top_k=5, filters={"language": "en"})
        assert [key for key, _ in hits] == ["b"]
        reopened.add(["d"], batch((0, 1, 0, 0)))  # a reopened index can still grow
        assert reopened.search(unit(0, 1, 0, 0), top_k=1)[0][0] == "d"

    def test_empty_index(self, open_index: Opener, tmp_path: Path) -> None:
        index = open_index(tmp_path / "empty", 3)
        assert index.count == 0
        assert index.search(unit(1, 0, 0), top_k=5) == []
        index.delete(["x"])
        index.add([], np.zeros((0, 3), dtype=np.float32))
        assert index.count == 0

    def test_dimension_mismatch_is_refused(
        self, index: VectorIndex, open_index: Opener, tmp_path: Path
    ) -> None:
        with pytest.raises(InvalidParam, match="shape"):
            index.add(["x"], np.ones((1, 3), dtype=np.float32))
        with pytest.raises(InvalidParam, match="dimension"):
            index.search(np.ones(5, dtype=np.float32), top_k=1)
        index.flush()
        index.close()
        with pytest.raises(InvalidParam, match="dimension"):
            open_index(tmp_path / "vectors", 8)

    def test_batch_shape_errors(self, index: VectorIndex) -> None:
        with pytest.raises(InvalidParam, match="2 ids for 1 vectors"):
            index.add(["x", "y"], batch((1, 0, 0, 0)))
        with pytest.raises(InvalidParam, match="duplicate"):
            index.add(["x", "x"], batch((1, 0, 0, 0), (0, 1, 0, 0)))
        with pytest.raises(InvalidParam, match="unknown metadata"):
            index.add(["x"], batch((1, 0, 0, 0)), [{"colour": "red"}])  # type: ignore[typeddict-unknown-key]


class RemoteVectorIndexConformance(VectorIndexConformance):
    """A vector store that holds an app's passage vectors (``vectors.store``) must also give
    back what it stores, so a query can score candidates its search did not return."""

    def test_fetch_returns_the_stored_unit_vectors(self, index: VectorIndex) -> None:
        found = index.fetch(["b", "a", "missing"])  # type: ignore[attr-defined]
        assert sorted(found) == ["a", "b"]
        np.testing.assert_allclose(found["b"], unit(0.8, 0.6, 0, 0), atol=1e-6)
        assert index.fetch([]) == {}  # type: ignore[attr-defined]
