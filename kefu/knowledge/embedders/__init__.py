"""Embedders: text → L2-normalised vectors, behind one small protocol.

Implementations are adapters chosen by config (:func:`build_embedder`): the in-process
multilingual encoder, kefu's default (:class:`UseEmbedder`, USE multilingual v3), a local
sentence-transformers model directory read with numpy (:class:`LocalEmbedder`), or an
OpenAI-compatible ``/v1/embeddings`` server (:class:`OpenAIEmbedder`); intent
classification and dense retrieval both take any :class:`Embedder`.
"""

from __future__ import annotations

from kefu.knowledge.embedders.base import AsyncEmbedder, Embedder
from kefu.knowledge.embedders.factory import build_embedder, build_reranker
from kefu.knowledge.embedders.local import LocalEmbedder, find_minilm
from kefu.knowledge.embedders.multilingual import UseEmbedder, use_available
from kefu.knowledge.embedders.openai_compat import OpenAIEmbedder

__all__ = [
    "AsyncEmbedder",
    "Embedder",
    "LocalEmbedder",
    "OpenAIEmbedder",
    "UseEmbedder",
    "build_embedder",
    "build_reranker",
    "find_minilm",
    "use_available",
]
