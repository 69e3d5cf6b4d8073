"""The chat service: stop mid-stream keeps what was sent; a vanished client still gets stored."""

from __future__ import annotations

import asyncio

from kefu.engine.generation import split_for_streaming
from kefu.services.chat import AnswerDelta, ChatRequest, TurnResult
from kefu.services.runtime import Runtime


def test_split_for_streaming_keeps_every_character() -> None:
    text = "您好！订单付款后48小时内发货，预售商品以页面为准。Shipping takes 2-4 days."
    pieces = split_for_streaming(text)
    assert "".join(pieces) == text
    assert len(pieces) > 3
    assert all(len(p) <= 24 for p in pieces)


async def test_stop_mid_stream_stores_partial_answer(runtime: Runtime) -> None:
    app = runtime.apps.get("demo-shop")
    turn = await runtime.chat.prepare(
        ChatRequest(app=app, user="stopper", query="退货要扣多少运费")
    )
    events = []
    async for event in runtime.chat.stream(turn):
        events.append(event)
        if len(events) == 1:
            runtime.chat.stop(app, "stopper", turn.task_id)
    deltas = [e.text for e in events if isinstance(e, AnswerDelta)]
    result = events[-1]
    assert isinstance(result, TurnResult)
    assert result.status == "stopped"
    assert result.answer == "".join(deltas) and len(deltas) == 1
    stored = runtime.store.conversations.get_message(app.id, turn.message_id)
    assert stored is not None and stored.status == "stopped" and stored.answer == deltas[0]


async def test_other_user_cannot_stop_a_task(runtime: Runtime) -> None:
    app = runtime.apps.get("demo-shop")
    turn = await runtime.chat.prepare(ChatRequest(app=app, user="owner", query="怎么开发票"))
    events = []
    async for event in runtime.chat.stream(turn):
        events.append(event)
        runtime.chat.stop(app, "intruder", turn.task_id)
    result = events[-1]
    assert isinstance(result, TurnResult) and result.status == "normal"


async def test_client_gone_mid_stream_still_stores_turn(runtime: Runtime) -> None:
    app = runtime.apps.get("demo-shop")
    turn = await runtime.chat.prepare(ChatRequest(app=app, user="leaver", query="退货要扣多少运费"))
    stream = runtime.chat.stream(turn)
    first = await anext(stream)
    assert isinstance(first, AnswerDelta)
    await stream.aclose()  # what Starlette does when the client disconnects
    for _ in range(100):
        stored = runtime.store.conversations.get_message(app.id, turn.message_id)
        if stored is not None:
            break
        await asyncio.sleep(0.02)
    assert stored is not None
    assert stored.status == "stopped" and stored.answer == first.text
