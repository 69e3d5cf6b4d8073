"""Dify's ``agent_thought`` events: a streamed turn in which the model called a tool shows
the call before the answer; an image sent with a message reaches a model as a note."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kefu.services.runtime import Runtime
from kefu.testing import ScriptedChatModel
from kefu.tools import PythonTool
from tests.conftest import DEMO_KEY
from tests.servers import in_process_client

QUESTION = "W2378156 这个单子的发票抬头能改吗"  # names an order; no flow or FAQ takes it
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
async def client(llm_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(llm_runtime, DEMO_KEY) as http:
        yield http


def sse_events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


async def test_a_streamed_tool_call_comes_as_agent_thought(
    llm_runtime: Runtime, client: httpx.AsyncClient
) -> None:
    app = llm_runtime.apps.get("demo-shop")
    app.tools.register(
        PythonTool(
            "lookup_invoice",
            lambda order_id: {"order_id": order_id, "invoice": "个人"},
            description="查询订单的发票信息",
            parameters={
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        )
    )
    model = ScriptedChatModel().call("lookup_invoice", order_id="#W2378156")
    model.say("订单 #W2378156 的发票抬头是「个人」。")
    app.model = model
    response = await client.post(
        "/v1/chat-messages",
        json={"query": QUESTION, "user": "thinker", "response_mode": "streaming"},
    )
    assert response.status_code == 200, response.text
    events = sse_events(response.text)
    names = [e["event"] for e in events]
    assert names[0] == "agent_thought" and names[-1] == "message_end", names
    assert set(names[1:-1]) == {"message"}
    thought = events[0]
    assert thought["tool"] == "lookup_invoice" and thought["position"] == 1
    assert json.loads(thought["tool_input"]) == {"order_id": "#W2378156"}
    assert json.loads(thought["observation"])["outcome"] == "ok"
    assert thought["message_id"] == events[-1]["message_id"] != thought["id"]
    assert "".join(e["answer"] for e in events[1:-1]).startswith("订单 #W2378156")


async def test_a_model_is_told_the_customer_sent_an_image(
    llm_runtime: Runtime, client: httpx.AsyncClient
) -> None:
    model = ScriptedChatModel().say("看起来商品在运输中受损了，我们为您安排换货。")
    llm_runtime.apps.get("demo-shop").model = model
    uploaded = await client.post(
        "/v1/files/upload", files={"file": ("a.png", PNG, "image/png")}, data={"user": "eyes"}
    )
    assert uploaded.status_code == 201, uploaded.text
    answer = await client.post(
        "/v1/chat-messages",
        json={
            "query": "商品收到时是这样的，怎么办",
            "user": "eyes",
            "response_mode": "blocking",
            "files": [
                {
                    "type": "image",
                    "transfer_method": "local_file",
                    "upload_file_id": uploaded.json()["id"],
                }
            ],
        },
    )
    assert answer.status_code == 200, answer.text
    asked = model.calls[-1][-1]
    assert asked.role == "user" and asked.content.endswith("[顾客发送了一张图片]")
