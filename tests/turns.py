"""Turns for tests: one turn's stages from a synchronous test (a new conversation, no
history), and one blocking customer message through the service API."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from kefu.engine.app import AppRuntime
from kefu.engine.context import TurnContext
from kefu.engine.turn import run_turn


def decide(app: AppRuntime, query: str) -> TurnContext:
    """The turn's decisions for ``query`` (route, answer, sources) as the stages make them."""
    return asyncio.run(run_turn(TurnContext(app=app, raw_query=query)))


async def chat(
    client: httpx.AsyncClient, user: str, query: str, conversation_id: str = ""
) -> dict[str, Any]:
    """One blocking customer message through the service API; the answer's JSON (200)."""
    response = await client.post(
        "/v1/chat-messages",
        json={"query": query, "user": user, "response_mode": "blocking", "inputs": {},
              "conversation_id": conversation_id},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
