"""OpenAI-compatible ``POST /v1/chat/completions`` driving the same turn pipeline.

``model`` names the app; the key must belong to it. The last user message is the query
(history is kept by kefu per conversation: pass ``conversation_id`` in the body to continue
one). Answers carry kefu's extras (conversation, message, sources) under ``kefu``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from kefu.api.deps import AppAuth, RuntimeDep
from kefu.api.errors import status_for
from kefu.api.responses import json_response
from kefu.api.schemas import OpenAIChatIn, OpenAIMessageIn
from kefu.api.sse import COMMENT_PING, event_stream_response, sse_data
from kefu.core.errors import InvalidParam, KefuError, NotFound
from kefu.engine.chat import (
    AnswerDelta,
    AnswerReplace,
    ChatRequest,
    ChatService,
    PreparedTurn,
    TurnResult,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["openai"])
ANONYMOUS_USER = "openai-user"


def _text(message: OpenAIMessageIn) -> str:
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    return "".join(
        str(part.get("text", "")) for part in message.content if part.get("type") == "text"
    )


def _usage(result: TurnResult) -> dict[str, int]:
    usage = result.usage
    return {
        "prompt_tokens": int(usage.get("prompt_tokens", 0)),
        "completion_tokens": int(usage.get("completion_tokens", 0)),
        "total_tokens": int(usage.get("total_tokens", 0)),
    }


def _extras(result: TurnResult) -> dict[str, Any]:
    return {
        "conversation_id": result.conversation_id,
        "message_id": result.message_id,
        "route": result.route,
        "retriever_resources": result.retriever_resources,
    }


@router.post("/chat/completions")
async def chat_completions(body: OpenAIChatIn, app: AppAuth, runtime: RuntimeDep) -> Response:
    if body.model != app.name:
        raise NotFound(f"The model `{body.model}` does not exist or this key cannot use it.")
    user_messages = [m for m in body.messages if m.role == "user"]
    if not user_messages:
        raise InvalidParam("messages: at least one message with role 'user' is required")
    turn = await runtime.chat.prepare(
        ChatRequest(
            app=app,
            user=body.user or ANONYMOUS_USER,
            query=_text(user_messages[-1]),
            conversation_id=body.conversation_id or None,
        )
    )
    if not body.stream:
        result = await runtime.chat.answer(turn)
        return json_response(
            {
                "id": f"chatcmpl-{result.message_id}",
                "object": "chat.completion",
                "created": result.created_at,
                "model": app.name,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": result.answer},
                        "finish_reason": "stop",
                    }
                ],
                "usage": _usage(result),
                "kefu": _extras(result),
            }
        )
    include_usage = bool((body.stream_options or {}).get("include_usage"))
    return event_stream_response(
        openai_chunks(runtime.chat, turn, app.name, include_usage),
        runtime.settings.stream_ping_seconds,
        COMMENT_PING,
    )


async def openai_chunks(
    chat: ChatService, turn: PreparedTurn, model: str, include_usage: bool
) -> AsyncIterator[bytes]:
    """``chat.completion.chunk`` frames, the finish chunk, optional usage, then ``[DONE]``."""
    base = {
        "id": f"chatcmpl-{turn.message_id}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return sse_data({**base, "choices": [choice], **extra})

    yield chunk({"role": "assistant", "content": ""})
    try:
        async with aclosing(chat.stream(turn)) as events:
            async for event in events:
                if isinstance(event, AnswerDelta):
                    yield chunk({"content": event.text})
                elif isinstance(event, AnswerReplace):
                    # Chunks cannot take back text: the replacement follows what was sent.
                    yield chunk({"content": "\n\n" + event.text})
                else:
                    yield chunk({}, "stop", kefu=_extras(event))
                    if include_usage:
                        yield sse_data({**base, "choices": [], "usage": _usage(event)})
    except KefuError as exc:
        yield sse_data(
            {"error": {"message": exc.message, "code": exc.code, "status": status_for(exc)}}
        )
    yield sse_data("[DONE]")
