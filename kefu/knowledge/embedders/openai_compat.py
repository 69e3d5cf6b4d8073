"""An embedder behind any OpenAI-compatible ``/v1/embeddings`` endpoint.

vLLM, TEI, llama.cpp server, Ollama, Xinference, DashScope and OpenAI all serve this
shape: ``{"model", "input": [texts]}`` → ``{"data": [{"index", "embedding"}]}``.
:meth:`OpenAIEmbedder.embed` blocks (indexing, off the event loop);
:meth:`OpenAIEmbedder.aembed` is awaited for a chat turn's query.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

from kefu.core.errors import ProviderBadResponse
from kefu.knowledge._http import LoopClients, apost_json, post_json

__all__ = ["OpenAIEmbedder"]

_WHAT = "embeddings"


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
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._url = f"{self.base_url}/embeddings"
        self.model = model
        self.batch_size = batch_size
        self.retries = retries
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout_s, headers=headers, transport=transport)
        self._async_clients = LoopClients(
            timeout_s=timeout_s, headers=headers, transport=async_transport
        )
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
        parts = []
        for batch in self._batches(texts):
            reply = post_json(
                self._client, self._url, self._payload(batch), retries=self.retries, what=_WHAT
            )
            parts.append(self._vectors(reply, batch))
        return self._joined(parts)

    async def aembed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """:meth:`embed` without blocking the event loop (a client per running loop)."""
        client = self._async_clients.get()
        parts = []
        for batch in self._batches(texts):
            reply = await apost_json(
                client, self._url, self._payload(batch), retries=self.retries, what=_WHAT
            )
            parts.append(self._vectors(reply, batch))
        return self._joined(parts)

    def close(self) -> None:
        self._client.close()

    async def aclose(self) -> None:
        """Close the running event loop's connections."""
        await self._async_clients.aclose()

    def _batches(self, texts: Sequence[str]) -> list[list[str]]:
        return [
            list(texts[start : start + self.batch_size])
            for start in range(0, len(texts), self.batch_size)
        ]

    def _payload(self, texts: list[str]) -> dict[str, Any]:
        return {"model": self.model, "input": [text or " " for text in texts]}

    def _joined(self, parts: list[npt.NDArray[np.float32]]) -> npt.NDArray[np.float32]:
        if not parts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        return np.concatenate(parts)

    def _vectors(self, reply: Any, texts: list[str]) -> npt.NDArray[np.float32]:
        """The reply's vectors, checked and L2-normalised."""
        url = self._url
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
