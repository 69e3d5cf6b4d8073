"""Dialog tests read as scripts: ``await talk.say("…")`` returns the bot's answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Talk:
    """One customer's conversation with the demo app through the service API."""

    client: httpx.AsyncClient
    user: str
    conversation_id: str = ""
    last: dict[str, Any] = field(default_factory=dict)

    async def say(self, query: str) -> str:
        response = await self.client.post(
            "/v1/chat-messages",
            json={
                "query": query,
                "user": self.user,
                "inputs": {},
                "response_mode": "blocking",
                "conversation_id": self.conversation_id,
            },
        )
        assert response.status_code == 200, response.text
        self.last = response.json()
        self.conversation_id = self.last["conversation_id"]
        return str(self.last["answer"])

    async def trace(self) -> dict[str, Any]:
        response = await self.client.get(
            f"/admin/messages/{self.last['message_id']}/trace",
            headers={"Authorization": "Bearer admin-test-key"},
        )
        assert response.status_code == 200, response.text
        return dict(response.json())
