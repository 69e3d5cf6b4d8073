"""kefu's service API as a customer's client uses it: ``POST /v1/chat-messages``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["KefuChatClient", "KefuReply"]


@dataclass(frozen=True, slots=True)
class KefuReply:
    """One answer, or why there is none (``error``)."""

    answer: str
    conversation_id: str
    handoff_state: str = "bot"
    error: str | None = None


class KefuChatClient:
    """Blocking chat messages with one API key; one conversation per episode."""

    def __init__(self, base_url: str, api_key: str, timeout_s: float = 600) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout_s,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, query: str, *, user: str, conversation_id: str) -> KefuReply:
        body: dict[str, Any] = {
            "inputs": {},
            "query": query,
            "response_mode": "blocking",
            "conversation_id": conversation_id,
            "user": user,
        }
        try:
            response = await self._http.post("/v1/chat-messages", json=body)
        except httpx.HTTPError as exc:
            return KefuReply("", conversation_id, error=f"{type(exc).__name__}: {exc}")
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code != 200:
            message = data.get("message") if isinstance(data, dict) else None
            return KefuReply(
                "", conversation_id, error=f"HTTP {response.status_code}: {message or ''}"
            )
        metadata = data.get("metadata") or {}
        return KefuReply(
            answer=str(data.get("answer") or ""),
            conversation_id=str(data.get("conversation_id") or conversation_id),
            handoff_state=str(metadata.get("handoff_state") or "bot"),
        )
