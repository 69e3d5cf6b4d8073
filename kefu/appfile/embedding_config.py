"""Dense retrieval settings: the embedder, how its results are fused with BM25, a reranker.

Defaults keep retrieval purely lexical (jieba + BM25): the bundled local model
(all-MiniLM-L6-v2) is English-only and the demo is Chinese-first, where it measured worse
than BM25 alone (docs/evaluation.md). ``provider: local`` or ``openai`` turns hybrid on.
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

    provider: Literal["none", "local", "openai"] = "none"
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
    # Measured for all-MiniLM-L6-v2 (docs/evaluation.md): unrelated English questions stay
    # below 0.45 (99th percentile of CLINC150 out-of-scope against BANKING77: 0.53), the
    # right FAQ's best form has a median of 0.81. Another model needs its own pair.
    dense_floor: float = Field(0.45, ge=-1, le=1, description="cosine that means unrelated")
    dense_ceiling: float = Field(0.95, ge=-1, le=1, description="cosine that means the same")
