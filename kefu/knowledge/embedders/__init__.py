"""Embedders: text → L2-normalised vectors, behind one small protocol.

Implementations are adapters chosen by config (a local sentence-transformers model
directory read with numpy, an OpenAI-compatible ``/v1/embeddings`` server); intent
classification and dense retrieval both take any :class:`Embedder`.
"""

from __future__ import annotations

from kefu.knowledge.embedders.base import Embedder

__all__ = ["Embedder"]
