"""The SSE sequence of a generated answer, and of one whose model dies mid-answer."""

from __future__ import annotations

import httpx

from kefu.api.app import create_app
from kefu.engine.runtime import Runtime
from kefu.testing import ScriptedChatModel
from tests.conftest import DEMO_KEY
from tests.sse import parse_sse

BODY = {"query": "拒收的话运费谁出", "user": "sse", "response_mode": "streaming"}


async def stream_events(runtime: Runtime) -> list[dict]:
    transport = httpx.ASGITransport(app=create_app(runtime, close_runtime=False))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers={"Authorization": f"Bearer {DEMO_KEY}"}
    ) as client:
        response = await client.post("/v1/chat-messages", json=BODY)
    return [data for _, data in parse_sse(response.text)]


async def test_generated_answer_event_sequence(llm_runtime: Runtime) -> None:
    llm_runtime.apps.get("demo-shop").model = ScriptedChatModel().say("拒收扣 ", "12 元 [1]。")
    events = await stream_events(llm_runtime)
    assert [e["event"] for e in events] == ["message", "message", "message_end"]
    assert [e["answer"] for e in events[:2]] == ["拒收扣 ", "12 元 [1]。"]
    usage = events[-1]["metadata"]["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert events[-1]["metadata"]["retriever_resources"][0]["position"] == 1


async def test_model_dying_mid_answer_sends_message_replace(llm_runtime: Runtime) -> None:
    llm_runtime.apps.get("demo-shop").model = ScriptedChatModel().fail("reset", 1, "拒收", "x")
    events = await stream_events(llm_runtime)
    assert [e["event"] for e in events] == ["message", "message_replace", "message_end"]
    assert events[0]["answer"] == "拒收"
    assert events[1]["answer"].startswith("根据《配送政策》：")
    assert {e["message_id"] for e in events} == {events[0]["message_id"]}
