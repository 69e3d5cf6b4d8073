"""The SSE sequence of a generated answer, and of one whose model dies mid-answer."""

from __future__ import annotations

from kefu.services.runtime import Runtime
from kefu.testing import ScriptedChatModel
from tests.conftest import DEMO_KEY
from tests.servers import in_process_client
from tests.sse import parse_sse

BODY = {"query": "拒收的话运费谁出", "user": "sse", "response_mode": "streaming"}


async def stream_events(runtime: Runtime) -> list[dict]:
    async with in_process_client(runtime, DEMO_KEY) as client:
        response = await client.post("/v1/chat-messages", json=BODY)
    return [data for _, data in parse_sse(response.text)]


async def test_generated_answer_event_sequence(llm_runtime: Runtime) -> None:
    pieces = [
        "非质量问题拒收的，",
        "按七天无理由退货处理，",
        "退回运费 12 元",
        "从退款中扣除 [1]。",
    ]
    llm_runtime.apps.get("demo-shop").model = ScriptedChatModel().say(*pieces)
    events = await stream_events(llm_runtime)
    names = [e["event"] for e in events]
    assert names[-1] == "message_end" and set(names[:-1]) == {"message"} and len(names) >= 4
    assert "".join(e["answer"] for e in events[:-1]) == "".join(pieces)
    usage = events[-1]["metadata"]["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert events[-1]["metadata"]["retriever_resources"][0]["position"] == 1


async def test_model_dying_mid_answer_sends_message_replace(llm_runtime: Runtime) -> None:
    first = "非质量问题拒收的，按七天无理由退货处理，退回的运费从退款中扣除，" * 3
    llm_runtime.apps.get("demo-shop").model = ScriptedChatModel().fail("reset", 1, first, "x")
    events = await stream_events(llm_runtime)
    assert [e["event"] for e in events] == ["message", "message_replace", "message_end"]
    assert first.startswith(events[0]["answer"])
    assert events[1]["answer"].startswith("根据《配送政策》")
    assert {e["message_id"] for e in events} == {events[0]["message_id"]}
