"""Build the embedder and reranker an app's config names (None: not configured)."""

from __future__ import annotations

import os

from kefu.appfile.embedding_config import EmbeddingConfig, RerankConfig
from kefu.core.errors import ConfigError
from kefu.knowledge.embedders.base import Embedder
from kefu.knowledge.embedders.local import LocalEmbedder, shared_embedder
from kefu.knowledge.embedders.openai_compat import OpenAIEmbedder
from kefu.knowledge.rerank import OpenAIReranker, Reranker

__all__ = ["build_embedder", "build_reranker", "embedder_languages"]


def embedder_languages(config: EmbeddingConfig) -> frozenset[str] | None:
    """The query languages dense retrieval is used for (None: every language).

    The bundled MiniLM is English-only: Chinese text is mostly unknown tokens to it, so two
    unrelated Chinese questions score a cosine of 0.8-0.99 (measured on the demo).
    """
    if config.languages is not None:
        return frozenset(config.languages)
    if config.provider == "local" and config.model_dir is None:
        return frozenset({"en"})
    return None


def build_embedder(config: EmbeddingConfig) -> Embedder | None:
    """``none`` → None; ``local`` → the model in ``model_dir`` (default: the bundled MiniLM);
    ``openai`` → an OpenAI-compatible ``/v1/embeddings`` client."""
    if config.provider == "none":
        return None
    if config.provider == "local":
        if config.model_dir is None:
            return LocalEmbedder.minilm()
        return shared_embedder(str(config.model_dir))
    if not config.base_url:
        raise ConfigError("the openai embedding provider needs base_url", key="embedding.base_url")
    return OpenAIEmbedder(
        config.base_url,
        config.model,
        api_key=_api_key(config.api_key_env, "embedding.api_key_env"),
        batch_size=config.batch_size,
        timeout_s=config.timeout_s,
        retries=config.retries,
    )


def build_reranker(config: RerankConfig) -> Reranker | None:
    """``none`` → None; ``openai`` → a ``/v1/rerank`` client (TEI, vLLM, Jina shape)."""
    if config.provider == "none":
        return None
    if not config.base_url:
        raise ConfigError("the openai rerank provider needs base_url", key="rerank.base_url")
    return OpenAIReranker(
        config.base_url,
        config.model,
        api_key=_api_key(config.api_key_env, "rerank.api_key_env"),
        timeout_s=config.timeout_s,
        retries=config.retries,
    )


def _api_key(variable: str | None, key: str) -> str | None:
    if variable is None:
        return None
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(f"environment variable {variable} is not set", key=key)
    return value
