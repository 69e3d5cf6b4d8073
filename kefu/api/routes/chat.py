"""``POST /v1/chat-messages`` (blocking and streaming) and ``…/{task_id}/stop``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kefu.api.deps import Caller, ChatCaller, RuntimeDep, runtime_of
from kefu.api.errors import status_for
from kefu.api.responses import json_response
from kefu.api.routes.files import chat_files_of
from kefu.api.schemas import ChatMessageIn, StopIn
from kefu.api.sse import event_stream_response, sse_data
from kefu.api.wire import agent_thoughts, dify_usage, retriever_resources
from kefu.core.errors import KefuError
from kefu.core.file_records import FileRecord
from kefu.services.chat import (
    AnswerDelta,
    AnswerReplace,
    ChatRequest,
    ChatService,
    PreparedTurn,
    TurnResult,
)
from kefu.services.chat_files import ChatFiles
from kefu.services.runtime import Runtime

__all__ = ["router", "send_message"]

router = APIRouter(prefix="/v1", tags=["chat"])


def _metadata(result: TurnResult) -> dict[str, Any]:
    return {
        "usage": dify_usage(result.usage),
        "retriever_resources": retriever_resources(result.sources),
        # kefu: bot | pending_human | human | resolved (while a human owns the conversation
        # the answer is empty and the agent's replies come as events; see docs/handoff.md)
        "handoff_state": result.handoff_state,
    }


@router.post("/chat-messages")
async def chat_messages(body: ChatMessageIn, caller: ChatCaller, request: Request) -> Response:
    """Send a customer message (with images: ``files``); the answer comes whole or as SSE
    events."""
    # The runtime comes from the request, not as a dependency: each dependency FastAPI
    # solves costs ~10 µs of the busiest route's time. (Most messages never get here:
    # kefu.api.chat_shortcut answers a well-formed one before FastAPI's routing.)
    return await send_message(runtime_of(request), caller, body)


async def send_message(runtime: Runtime, caller: Caller, body: ChatMessageIn) -> Response:
    """What ``POST /v1/chat-messages`` does once the body is valid and the caller known:
    shared by the route and by :mod:`kefu.api.chat_shortcut`."""
    user = caller.user(body.user)
    files: ChatFiles | None = None
    sent: list[FileRecord] = []
    if body.files:  # most messages carry none: no files service to build then
        files = chat_files_of(runtime)
        sent = await files.resolve(caller.app, user, body.files)
    turn = await runtime.chat.prepare(
        ChatRequest(
            app=caller.app,
            user=user,
            query=body.query,
            inputs=body.inputs,
            conversation_id=body.conversation_id or None,
            images=len(sent),
        )
    )
    if files is not None:
        await files.attach(sent, turn.message_id, turn.conversation_id)
    if body.response_mode == "blocking":
        result = await runtime.chat.answer(turn)
        return json_response(
            {
                "event": "message",
                "task_id": result.task_id,
                "id": result.message_id,
                "message_id": result.message_id,
                "conversation_id": result.conversation_id,
                "mode": "chat",
                "answer": result.answer,
                "metadata": _metadata(result),
                "created_at": result.created_at,
            }
        )
    return event_stream_response(
        dify_events(runtime.chat, turn),
        runtime.settings.stream_ping_seconds,
        on_close=partial(runtime.chat.abandon, turn),
    )


async def dify_events(chat: ChatService, turn: PreparedTurn) -> AsyncIterator[bytes]:
    """Dify's chat-app events: ``agent_thought`` per tool called, ``message`` pieces, then
    ``message_end`` (or ``error``)."""
    base = {
        "task_id": turn.task_id,
        "id": turn.message_id,
        "message_id": turn.message_id,
        "conversation_id": turn.conversation_id,
    }
    created_at = int(turn.created_at)
    # Tools ran while the turn was prepared: their steps come before the answer.
    for thought in agent_thoughts(turn.ctx.trace.facts.get("tool_calls", []), turn.message_id):
        yield sse_data({"event": "agent_thought", **base, **thought, "created_at": created_at})
    try:
        async with aclosing(chat.stream(turn)) as events:
            async for event in events:
                if isinstance(event, AnswerDelta):
                    yield sse_data(
                        {"event": "message", **base, "answer": event.text, "created_at": created_at}
                    )
                elif isinstance(event, AnswerReplace):  # the model failed mid-answer
                    yield sse_data(
                        {
                            "event": "message_replace",
                            **base,
                            "answer": event.text,
                            "created_at": created_at,
                        }
                    )
                else:
                    yield sse_data({"event": "message_end", **base, "metadata": _metadata(event)})
    except KefuError as exc:
        yield sse_data(
            {
                "event": "error",
                **base,
                "status": status_for(exc),
                "code": exc.code,
                "message": exc.message,
            }
        )


@router.post("/chat-messages/{task_id}/stop")
async def stop_chat_message(
    task_id: str, body: StopIn, caller: ChatCaller, runtime: RuntimeDep
) -> Response:
    """Stop a streaming answer; what was sent so far is kept as the stored answer."""
    runtime.chat.stop(caller.app, caller.user(body.user), task_id)
    return json_response({"result": "success"})
