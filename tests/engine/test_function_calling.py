"""Function calling with a scripted model: the model asks for a tool → the registry calls
it → the model answers from the result. Read-only tools only; a failing tool or model
never fails the turn."""

from __future__ import annotations

import pytest

from kefu.engine.app import AppRuntime
from kefu.services.chat import ChatRequest, TurnResult
from kefu.services.runtime import Runtime
from kefu.testing import ScriptedChatModel
from kefu.tools import PythonTool

QUESTION = "W2378156 这个单子的发票抬头能改吗"  # names an order; no flow or FAQ takes it


@pytest.fixture
def seen() -> list[dict[str, str]]:
    """The calls the shop's invoice system received."""
    return []


@pytest.fixture
def app(llm_runtime: Runtime, seen: list[dict[str, str]]) -> AppRuntime:
    app = llm_runtime.apps.get("demo-shop")

    def get_order(order_id: str) -> dict[str, object]:
        seen.append({"order_id": order_id})
        return {"order_id": order_id, "status": "delivered", "invoice": "个人"}

    app.tools.register(
        PythonTool(
            "lookup_invoice",
            get_order,
            description="查询订单的发票信息",
            parameters={
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        )
    )
    return app


async def ask(runtime: Runtime, query: str) -> TurnResult:
    app = runtime.apps.get("demo-shop")
    turn = await runtime.chat.prepare(ChatRequest(app=app, user="fc", query=query))
    return await runtime.chat.answer(turn)


async def test_model_calls_a_tool_then_answers_from_it(
    llm_runtime: Runtime, app: AppRuntime, seen: list[dict[str, str]]
) -> None:
    model = ScriptedChatModel().call("lookup_invoice", order_id="#W2378156")
    model.say("订单 #W2378156 的发票抬头是「个人」，签收后 30 天内可在订单详情修改。")
    app.model = model
    result = await ask(llm_runtime, QUESTION)
    assert "个人" in result.answer and result.route == "generate"
    assert seen == [{"order_id": "#W2378156"}]
    offered = {spec["function"]["name"] for spec in model.tools_offered[0]}
    assert "lookup_invoice" in offered and "get_order" in offered
    assert "cancel_order" not in offered  # changes state: only a flow, after a yes
    tool_message = model.calls[-1][-1]
    assert tool_message.role == "tool" and "个人" in tool_message.content
    trace = llm_runtime.store.conversations.get_trace(result.message_id)
    assert trace is not None
    assert trace.data["tool_calls"][0]["tool"] == "lookup_invoice"
    assert trace.data["mode"] == "function_calling"


async def test_tool_loop_is_bounded(
    llm_runtime: Runtime, app: AppRuntime, seen: list[dict[str, str]]
) -> None:
    steps = app.config.llm.max_tool_steps
    model = ScriptedChatModel()
    for _ in range(steps):
        model.call("lookup_invoice", order_id="#W2378156")
    model.say("抬头为个人。")
    app.model = model
    result = await ask(llm_runtime, QUESTION)
    assert result.answer == "抬头为个人。"
    assert len(seen) == steps
    assert model.tools_offered[-1] == []  # the last round had to answer


async def test_bad_arguments_reach_the_model_as_a_failed_result(
    llm_runtime: Runtime, app: AppRuntime, seen: list[dict[str, str]]
) -> None:
    model = ScriptedChatModel().call("lookup_invoice", wrong="x")
    model.say("抱歉，我没查到这个订单的发票信息。")
    app.model = model
    result = await ask(llm_runtime, QUESTION)
    assert seen == [] and "没查到" in result.answer
    assert "invalid_arguments" in model.calls[-1][-1].content


async def test_a_dead_model_leaves_the_ordinary_answer(
    llm_runtime: Runtime, app: AppRuntime, seen: list[dict[str, str]]
) -> None:
    app.model = ScriptedChatModel().fail("connection refused")
    result = await ask(llm_runtime, QUESTION)
    assert result.answer  # the extractive answer or the fallback, never an error
    assert seen == []
