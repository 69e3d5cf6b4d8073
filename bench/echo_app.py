"""A bare FastAPI "echo" app with the same request/response shape as kefu's chat endpoint.

It is the baseline of ``bench/faq_throughput.py``: same route, a pydantic request model of the
same shape, the same bearer-header check and a JSON answer of similar shape and size, but no
retrieval and no database.  Whatever kefu spends beyond this app is the cost of the FAQ path
(matching, persistence, tracing).

Run it on its own with::

    .venv/bin/python -m uvicorn --app-dir bench echo_app:app --port 8001
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel, Field

API_KEY = "app-bench-key"
_EXPECTED_AUTHORIZATION = f"Bearer {API_KEY}"

# Fixed ids: the echo app stores nothing, so every answer can carry the same ones.
_CONVERSATION_ID = "00000000-0000-4000-8000-000000000001"
_MESSAGE_ID = "00000000-0000-4000-8000-000000000002"
_TASK_ID = "00000000-0000-4000-8000-000000000003"


class ChatRequest(BaseModel):
    """Body of ``POST /v1/chat-messages`` (the Dify-compatible shape kefu accepts)."""

    query: str = Field(min_length=1, max_length=4000)
    inputs: dict[str, Any] = Field(default_factory=dict)
    user: str = Field(min_length=1, max_length=256)
    response_mode: Literal["blocking", "streaming"] = "blocking"
    conversation_id: str = ""


app = FastAPI(title="kefu bench echo app", docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/health")
async def health() -> dict[str, str]:
    """Readiness probe, same path as kefu's."""
    return {"status": "ok"}


@app.post("/v1/chat-messages")
async def chat_messages(
    body: ChatRequest,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Check the bearer key and echo the query back in a kefu-shaped blocking answer."""
    if authorization != _EXPECTED_AUTHORIZATION:
        raise HTTPException(status_code=401, detail="invalid api key")
    return {
        "event": "message",
        "task_id": _TASK_ID,
        "id": _MESSAGE_ID,
        "message_id": _MESSAGE_ID,
        "conversation_id": body.conversation_id or _CONVERSATION_ID,
        "mode": "chat",
        "answer": body.query,
        "metadata": {
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "retriever_resources": [
                {
                    "position": 1,
                    "dataset_id": "faq",
                    "dataset_name": "FAQ",
                    "document_id": "faq-echo",
                    "document_name": "echo",
                    "segment_id": "faq-echo-1",
                    "score": 1.0,
                    "content": body.query,
                }
            ],
        },
        "created_at": int(time.time()),
    }
