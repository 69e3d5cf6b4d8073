"""An embedder behind any OpenAI-compatible ``/v1/embeddings`` endpoint.

vLLM, TEI, llama.cpp server, Ollama, Xinference, DashScope and OpenAI all serve this
shape: ``{"model", "input": [texts]}`` → ``{"data": [{"index", "embedding"}]}``.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import numpy as np
import numpy.typing as npt

from kefu.core.errors import ProviderBadResponse
from kefu.knowledge._http import post_json

__all__ = ["OpenAIEmbedder"]


class OpenAIEmbedder:
    """Embeds texts in batches; vectors are L2-normalised here whatever the server does."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        batch_size: int = 64,
        timeout_s: float = 30.0,
        retries: int = 2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.batch_size = batch_size
        self.retries = retries
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout_s, headers=headers, transport=transport)
        self._dim: int | None = None

    @property
    def name(self) -> str:
        return f"openai:{self.model}@{self.base_url}"

    @property
    def dim(self) -> int:
        """Vector dimension (one probe request the first time it is asked)."""
        if self._dim is None:
            self.embed(["dimension probe"])
        assert self._dim is not None
        return self._dim

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        parts = [
            self._embed_batch(list(texts[start : start + self.batch_size]))
            for start in range(0, len(texts), self.batch_size)
        ]
        if not parts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        return np.concatenate(parts)

    def close(self) -> None:
        self._client.close()

    def _embed_batch(self, texts: list[str]) -> npt.NDArray[np.float32]:
        url = f"{self.base_url}/embeddings"
        payload = {"model": self.model, "input": [text or " " for text in texts]}
        reply = post_json(self._client, url, payload, retries=self.retries, what="embeddings")
        try:
            rows = sorted(reply["data"], key=lambda row: row["index"])
            vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
        except (KeyError, TypeError, ValueError):
            raise ProviderBadResponse(f"embeddings: {url} sent an unexpected reply") from None
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise ProviderBadResponse(
                f"embeddings: {url} returned {len(vectors)} vectors for {len(texts)} texts"
            )
        if self._dim is not None and vectors.shape[1] != self._dim:
            raise ProviderBadResponse(
                f"embeddings: {url} changed dimension from {self._dim} to {vectors.shape[1]}"
            )
        self._dim = int(vectors.shape[1])
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.asarray(vectors / np.where(norms > 0, norms, 1.0), dtype=np.float32)
