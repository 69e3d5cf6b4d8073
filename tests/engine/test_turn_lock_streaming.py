"""The turn lock holds a conversation for the whole turn, streaming included, without
blocking a stop; a message that waits too long gets 409; a stream that never started (the
client left first) frees its conversation."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import pytest
from starlette.requests import ClientDisconnect

from kefu.api.sse import event_stream_response
from kefu.core.errors import Conflict, ProviderError
from kefu.core.locks import InMemoryTurnLocks
from kefu.services.chat import AnswerDelta, ChatRequest, TurnResult
from kefu.services.runtime import Runtime
from kefu.testing import ScriptedChatModel, ScriptedReply
from tests.conftest import DEMO_KEY
from tests.servers import in_process_client

QUESTION = "拒收的话运费谁出"  # answered by the model from 《配送政策》
PARTS = tuple(
    f"第{n}段：非质量问题拒收的订单按七天无理由退货处理，运费从退款中扣除。" for n in range(6)
)


def request(runtime: Runtime, user: str, conversation_id: str | None = None) -> ChatRequest:
    app = runtime.apps.get("demo-shop")
    return ChatRequest(app=app, user=user, query=QUESTION, conversation_id=conversation_id)


async def test_a_streaming_turn_holds_its_conversation_but_not_a_stop(llm_runtime: Runtime) -> None:
    chat = llm_runtime.chat
    chat.locks = InMemoryTurnLocks(timeout_s=0.1)
    llm_runtime.apps.get("demo-shop").model = ScriptedChatModel(
        default=ScriptedReply(PARTS, delay_s=0.05)
    )
    opened = await chat.answer(await chat.prepare(request(llm_runtime, "s")))
    conversation_id = opened.conversation_id

    turn = await chat.prepare(request(llm_runtime, "s", conversation_id))
    stream = chat.stream(turn)
    first = await anext(stream)
    assert isinstance(first, AnswerDelta)
    with pytest.raises(Conflict, match="still being answered"):
        await chat.prepare(request(llm_runtime, "s", conversation_id))  # waits 0.1 s, refused

    chat.stop(turn.request.app, "s", turn.task_id)  # the stop never waits for the lock
    rest = [event async for event in stream]
    result = rest[-1]
    assert isinstance(result, TurnResult) and result.status == "stopped"

    after = await chat.answer(await chat.prepare(request(llm_runtime, "s", conversation_id)))
    assert after.conversation_id == conversation_id and after.status == "normal"


async def test_a_message_waiting_too_long_gets_409_in_the_envelope(
    llm_runtime: Runtime,
) -> None:
    chat = llm_runtime.chat
    chat.locks = InMemoryTurnLocks(timeout_s=0.1)
    opened = await chat.answer(await chat.prepare(request(llm_runtime, "w")))
    async with (
        in_process_client(llm_runtime, DEMO_KEY) as http,
        chat.locks.lock(opened.conversation_id),  # another message's turn, still running
    ):
        response = await http.post(
            "/v1/chat-messages",
            json={
                "query": "你好",
                "user": "w",
                "inputs": {},
                "response_mode": "streaming",
                "conversation_id": opened.conversation_id,
            },
        )
    assert response.status_code == 409
    body = response.json()
    assert body["status"] == 409 and body["code"] == "conflict"
    assert "still being answered" in body["message"] and "仍在回答" in body["message"]


async def test_a_stream_that_never_started_frees_its_conversation(llm_runtime: Runtime) -> None:
    chat = llm_runtime.chat
    chat.locks = InMemoryTurnLocks(timeout_s=0.1)
    opened = await chat.answer(await chat.prepare(request(llm_runtime, "g")))
    turn = await chat.prepare(request(llm_runtime, "g", opened.conversation_id))

    async def never_read() -> Any:
        raise AssertionError("the client left before the first byte")
        yield b""

    async def gone(message: dict[str, Any]) -> None:
        raise OSError("the client left")

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    response = event_stream_response(never_read(), 10.0, on_close=partial(chat.abandon, turn))
    with pytest.raises(ClientDisconnect):
        await response({"type": "http", "asgi": {"spec_version": "2.4"}}, receive, gone)
    # The conversation is free again: the next message is answered, not refused.
    after = await chat.answer(await chat.prepare(request(llm_runtime, "g", opened.conversation_id)))
    assert after.status == "normal"


async def test_an_agent_reply_never_waits_for_the_turn_lock(runtime: Runtime, user: str) -> None:
    app = runtime.apps.get("demo-shop")
    chat = runtime.chat
    asked = await chat.answer(await chat.prepare(ChatRequest(app=app, user=user, query="转人工")))
    assert asked.handoff_state == "pending_human"
    agent, _ = await runtime.agents.create_agent(f"agent-{user}", ["*"], "test")
    await runtime.agents.claim(agent, asked.conversation_id)
    async with chat.locks.lock(asked.conversation_id):  # a customer's turn is running
        async with asyncio.timeout(2):
            reply = await runtime.agents.reply(agent, asked.conversation_id, "您好，我是人工客服")
    assert reply.answer == "您好，我是人工客服"


async def test_a_turn_failing_before_it_is_stored_frees_its_conversation(
    llm_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = llm_runtime.chat
    chat.locks = InMemoryTurnLocks(timeout_s=0.1)
    llm_runtime.apps.get("demo-shop").model = ScriptedChatModel(default=ScriptedReply(PARTS))
    opened = await chat.answer(await chat.prepare(request(llm_runtime, "f")))

    async def broken(*args: Any) -> Any:
        raise ProviderError("the answer failed")
        yield

    monkeypatch.setattr(chat, "_answer_events", broken)
    for deliver in ("stream", "answer"):
        turn = await chat.prepare(request(llm_runtime, "f", opened.conversation_id))
        with pytest.raises(ProviderError):
            if deliver == "stream":
                [event async for event in chat.stream(turn)]
            else:
                await chat.answer(turn)
    monkeypatch.undo()
    after = await chat.answer(await chat.prepare(request(llm_runtime, "f", opened.conversation_id)))
    assert after.status == "normal"
