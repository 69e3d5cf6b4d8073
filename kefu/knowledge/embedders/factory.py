"""Build the embedder and reranker an app's config names (None: not configured)."""

from __future__ import annotations

import functools
import logging
import os

from kefu.appfile.embedding_config import EmbeddingConfig, RerankConfig
from kefu.core.errors import ConfigError
from kefu.knowledge.embedders.base import Embedder
from kefu.knowledge.embedders.local import LocalEmbedder, shared_embedder
from kefu.knowledge.embedders.multilingual import (
    USE_COSINE_RANGE,
    USE_PACKAGE,
    UseEmbedder,
    shared_use,
    use_available,
)
from kefu.knowledge.embedders.openai_compat import OpenAIEmbedder
from kefu.knowledge.rerank import OpenAIReranker, Reranker

__all__ = [
    "build_embedder",
    "build_reranker",
    "cosine_range",
    "describe_retrieval",
    "embedder_languages",
    "embeds_passages",
]

# all-MiniLM-L6-v2 (and the assumption for remote models): unrelated English questions stay
# below 0.45, the right FAQ's best form has a median of 0.81 (docs/evaluation.md).
_DEFAULT_COSINE_RANGE = (0.45, 0.95)

logger = logging.getLogger(__name__)


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


def cosine_range(embedder: Embedder) -> tuple[float, float]:
    """The (floor, ceiling) cosines that mean "unrelated" and "the same" for ``embedder``,
    measured per model; retrieval's ``dense_floor`` / ``dense_ceiling`` override them."""
    if isinstance(embedder, UseEmbedder):
        return USE_COSINE_RANGE
    return _DEFAULT_COSINE_RANGE


def embeds_passages(embedder: Embedder) -> bool:
    """Whether ``embedder`` is used for document chunks too, not only FAQ questions.

    USE is a *sentence* encoder: a question against a ~400-character chunk scored 0.24-0.52
    for the passage that answers and 0.3-0.46 for ones that do not (the demo's policies),
    so its chunks stay lexical (and are not embedded) until passages are cut into sentences.
    """
    return not isinstance(embedder, UseEmbedder)


def build_embedder(config: EmbeddingConfig) -> Embedder | None:
    """``auto`` → the multilingual encoder if installed, else None (lexical, logged once);
    ``multilingual`` → that encoder (:class:`ConfigError` saying what to install if absent);
    ``none`` → None; ``local`` → the model in ``model_dir`` (default: the bundled MiniLM);
    ``openai`` → an OpenAI-compatible ``/v1/embeddings`` client."""
    if config.provider == "none":
        return None
    if config.provider == "auto":
        if not use_available():
            _warn_no_encoder()
            return None
        return shared_use()
    if config.provider == "multilingual":
        if not use_available():
            raise ConfigError(
                f"the multilingual encoder is not installed: pip install {USE_PACKAGE}",
                key="embedding.provider",
            )
        return shared_use()
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


@functools.cache
def _warn_no_encoder() -> None:
    logger.warning(
        "the multilingual encoder is not installed (pip install %s): retrieval is lexical "
        "only (jieba + BM25) / 未安装多语言编码器，检索仅按词匹配",
        USE_PACKAGE,
    )


def describe_retrieval(retrievers: str, embedder: Embedder | None, fusion: str) -> str:
    """One line saying which retrieval is on, for logs and the CLI."""
    if embedder is None or retrievers == "lexical":
        return "lexical (jieba + BM25)"
    if retrievers == "dense":
        described = f"dense ({embedder.name})"
    else:
        described = f"hybrid (BM25 + {embedder.name}, {fusion} fusion)"
    if not embeds_passages(embedder):
        described += " for FAQ questions, lexical for passages"
    return described


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
