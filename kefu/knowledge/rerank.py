"""Rerankers: score (query, passage) pairs with a cross-encoder after retrieval.

The OpenAI-style ``/v1/rerank`` shape is what TEI, vLLM, Jina and Xinference serve:
``{"model", "query", "documents": [texts]}`` → ``{"results": [{"index",
"relevance_score"}]}``. Scores are clipped to [0, 1] and become the hit's relevance, so
the passage threshold applies after reranking.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import httpx

from kefu.core.errors import ProviderBadResponse
from kefu.knowledge._http import post_json

__all__ = ["OpenAIReranker", "Reranker"]


@runtime_checkable
class Reranker(Protocol):
    """Scores how well each text answers the query, in [0, 1], in input order."""

    @property
    def name(self) -> str: ...

    def rerank(self, query: str, texts: Sequence[str]) -> list[float]: ...


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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.retries = retries
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout_s, headers=headers, transport=transport)

    @property
    def name(self) -> str:
        return f"rerank:{self.model}@{self.base_url}"

    def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        url = f"{self.base_url}/rerank"
        payload = {"model": self.model, "query": query, "documents": list(texts)}
        reply = post_json(self._client, url, payload, retries=self.retries, what="rerank")
        scores = [0.0] * len(texts)
        try:
            for row in reply["results"]:
                scores[int(row["index"])] = min(1.0, max(0.0, float(row["relevance_score"])))
        except (KeyError, TypeError, ValueError, IndexError):
            raise ProviderBadResponse(f"rerank: {url} sent an unexpected reply") from None
        return scores

    def close(self) -> None:
        self._client.close()
