"""OpenAI-compatible ``/v1/chat/completions`` and ``/v1/models`` over the same turn pipeline.

``model`` names the app; the key must belong to it (``GET /v1/models`` lists it). The last
``user`` message is the customer's message; everything before it is the dialog so far, as
OpenAI clients keep it. kefu continues the conversation those earlier messages belong to,
or rebuilds its state (flow in progress, slots, streaks) from the customer's earlier
messages without calling a model or a tool again (:mod:`kefu.engine.transcript` says how
and why). ``system`` and ``developer`` messages are ignored: the app's persona and
grounding policy are the operator's, and a caller cannot replace them. The kefu extension
``conversation_id`` continues a stored conversation instead (kefu keeps its history).

``temperature``, ``top_p``, ``max_tokens`` (or ``max_completion_tokens``) and ``stop`` reach
the model for a generated answer, within the app's ``max_tokens``; extractive answers
ignore them. ``finish_reason`` is ``length`` when the model ran out of tokens, else
``stop`` (kefu runs its tools itself, so never ``tool_calls``). Answers carry kefu's extras
(conversation, message, route, sources) under ``kefu``. Errors use OpenAI's envelope
(:mod:`kefu.api.errors`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from functools import partial
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from kefu.api.deps import KeyCaller, RuntimeDep
from kefu.api.errors import ApiError, openai_error_body, status_for
from kefu.api.responses import json_response
from kefu.api.schemas import OpenAIChatIn, OpenAIMessageIn
from kefu.api.sse import COMMENT_PING, event_stream_response, sse_data
from kefu.api.wire import openai_usage, retriever_resources
from kefu.core.errors import KefuError
from kefu.services.chat import (
    AnswerDelta,
    AnswerReplace,
    ChatRequest,
    ChatService,
    PreparedTurn,
    PriorTurn,
    SamplingOverride,
    TurnResult,
)
from kefu.services.registry import AppRuntime

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["openai"])


def _text(message: OpenAIMessageIn) -> str:
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    return "".join(
        str(part.get("text", "")) for part in message.content if part.get("type") == "text"
    )


def split_dialog(messages: Sequence[OpenAIMessageIn]) -> tuple[str, tuple[PriorTurn, ...]]:
    """The customer's message (the last ``user`` one) and the exchanges before it.

    Each earlier ``user`` message opens an exchange and the ``assistant`` messages after it
    are its reply; an assistant message before any user message (a greeting) is a reply to
    nothing. System, developer, tool and function messages are not part of the dialog.
    """
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last is None:
        raise ApiError(
            400,
            "invalid_param",
            "messages: at least one message with role 'user' is required",
            param="messages",
        )
    exchanges: list[tuple[str, list[str]]] = []
    for message in messages[:last]:
        if message.role == "user":
            exchanges.append((_text(message), []))
        elif message.role == "assistant" and (reply := _text(message)):
            if not exchanges:
                exchanges.append(("", []))
            exchanges[-1][1].append(reply)
    prior = tuple(PriorTurn(query, "\n\n".join(replies)) for query, replies in exchanges)
    return _text(messages[last]), prior


def _sampling(body: OpenAIChatIn) -> SamplingOverride | None:
    max_tokens = body.max_completion_tokens or body.max_tokens
    stop = [body.stop] if isinstance(body.stop, str) else body.stop
    if body.temperature is None and body.top_p is None and max_tokens is None and stop is None:
        return None
    return SamplingOverride(
        temperature=body.temperature,
        top_p=body.top_p,
        max_tokens=max_tokens,
        stop=tuple(stop) if stop is not None else None,
    )


def _extras(result: TurnResult) -> dict[str, Any]:
    return {
        "conversation_id": result.conversation_id,
        "message_id": result.message_id,
        "route": result.route,
        "retriever_resources": retriever_resources(result.sources),
    }


def _model(app: AppRuntime) -> dict[str, Any]:
    return {"id": app.name, "object": "model", "created": _created(app.id), "owned_by": "kefu"}


def _created(app_id: str) -> int:
    """When the app was created: its id is a UUIDv7, whose first 48 bits are Unix ms."""
    digits = app_id.replace("-", "")
    if len(digits) != 32 or digits[12] != "7":
        return 0
    return int(digits[:12], 16) // 1000


def _model_not_found(model: str) -> ApiError:
    # The name is the caller's input: echo a readable prefix, never a megabyte back.
    shown = model if len(model) <= 100 else model[:100] + "…"
    return ApiError(
        404,
        "model_not_found",
        f"The model `{shown}` does not exist or this key cannot use it.",
        param="model",
    )


@router.get("/models")
async def list_models(caller: KeyCaller) -> Response:
    """The apps this key can talk to (a key belongs to one app): OpenAI's model list."""
    return json_response({"object": "list", "data": [_model(caller.app)]})


@router.get("/models/{model}")
async def retrieve_model(model: str, caller: KeyCaller) -> Response:
    if model != caller.app.name:
        raise _model_not_found(model)
    return json_response(_model(caller.app))


@router.post("/chat/completions")
async def chat_completions(body: OpenAIChatIn, caller: KeyCaller, runtime: RuntimeDep) -> Response:
    app = caller.app
    if body.model != app.name:
        raise _model_not_found(body.model)
    query, prior = split_dialog(body.messages)
    conversation_id = body.conversation_id or None
    turn = await runtime.chat.prepare(
        ChatRequest(
            app=app,
            # Without ``user`` each call is its own anonymous user: nobody can list or read
            # another caller's conversations under a shared default user.
            user=caller.user(body.user, anonymous=True),
            query=query,
            conversation_id=conversation_id,
            # With a stored conversation kefu has the history; else the client's is it.
            transcript=None if conversation_id else prior,
            sampling=_sampling(body),
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
                        "finish_reason": result.finish_reason,
                    }
                ],
                "usage": openai_usage(result.usage),
                "kefu": _extras(result),
            }
        )
    return event_stream_response(
        openai_chunks(runtime.chat, turn, app.name, body.stream_options.include_usage),
        runtime.settings.stream_ping_seconds,
        COMMENT_PING,
        on_close=partial(runtime.chat.abandon, turn),
    )


async def openai_chunks(
    chat: ChatService, turn: PreparedTurn, model: str, include_usage: bool
) -> AsyncIterator[bytes]:
    """``chat.completion.chunk`` frames, the finish chunk, optional usage, then ``[DONE]``."""
    base = {
        "id": f"chatcmpl-{turn.message_id}",
        "object": "chat.completion.chunk",
        "created": int(turn.created_at),
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
                    yield chunk({}, event.finish_reason, kefu=_extras(event))
                    if include_usage:
                        yield sse_data({**base, "choices": [], "usage": openai_usage(event.usage)})
    except KefuError as exc:
        yield sse_data(openai_error_body(status_for(exc), exc.code, exc.message))
    yield sse_data("[DONE]")
