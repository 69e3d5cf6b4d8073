"""Rerankers: score (query, passage) pairs with a cross-encoder after retrieval.

The OpenAI-style ``/v1/rerank`` shape is what TEI, vLLM, Jina and Xinference serve:
``{"model", "query", "documents": [texts]}`` → ``{"results": [{"index",
"relevance_score"}]}``. Scores are clipped to [0, 1] and become the hit's relevance, so
the passage threshold applies after reranking. A reranker that can also be awaited
(:class:`AsyncReranker`) is awaited in a chat turn; others run in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import httpx

from kefu.core.errors import ProviderBadResponse
from kefu.knowledge._http import LoopClients, apost_json, post_json

__all__ = ["AsyncReranker", "OpenAIReranker", "Reranker"]


@runtime_checkable
class Reranker(Protocol):
    """Scores how well each text answers the query, in [0, 1], in input order."""

    @property
    def name(self) -> str: ...

    def rerank(self, query: str, texts: Sequence[str]) -> list[float]: ...


@runtime_checkable
class AsyncReranker(Protocol):
    """A reranker whose scores can be awaited (a remote model): what a chat turn uses."""

    async def arerank(self, query: str, texts: Sequence[str]) -> list[float]: ...


class OpenAIReranker:
    """A :class:`Reranker` behind a ``/rerank`` endpoint."""

    def __init__(
        self,
        base_url: str,
        model: str = "",
        *,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        retries: int = 2,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.retries = retries
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout_s, headers=headers, transport=transport)
        self._async_clients = LoopClients(
            timeout_s=timeout_s, headers=headers, transport=async_transport
        )

    @property
    def name(self) -> str:
        return f"rerank:{self.model}@{self.base_url}"

    def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        url, payload = self._request(query, texts)
        reply = post_json(self._client, url, payload, retries=self.retries, what="rerank")
        return self._scores(reply, url, len(texts))

    async def arerank(self, query: str, texts: Sequence[str]) -> list[float]:
        """:meth:`rerank` without blocking the event loop (a client per running loop)."""
        if not texts:
            return []
        url, payload = self._request(query, texts)
        client = self._async_clients.get()
        reply = await apost_json(client, url, payload, retries=self.retries, what="rerank")
        return self._scores(reply, url, len(texts))

    def close(self) -> None:
        self._client.close()

    async def aclose(self) -> None:
        """Close the running event loop's connections."""
        await self._async_clients.aclose()

    def _request(self, query: str, texts: Sequence[str]) -> tuple[str, dict[str, Any]]:
        payload = {"model": self.model, "query": query, "documents": list(texts)}
        return f"{self.base_url}/rerank", payload

    @staticmethod
    def _scores(reply: Any, url: str, count: int) -> list[float]:
        scores = [0.0] * count
        try:
            for row in reply["results"]:
                scores[int(row["index"])] = min(1.0, max(0.0, float(row["relevance_score"])))
        except (KeyError, TypeError, ValueError, IndexError):
            raise ProviderBadResponse(f"rerank: {url} sent an unexpected reply") from None
        return scores
