"""The registry: OpenAI tool specs, confirmation prompts, traces, and calls that go wrong."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from kefu.appfile.tool_config import parse_tool_configs
from kefu.core.errors import ConfigError
from kefu.core.localized import LocalizedText
from kefu.tools import ToolContext, ToolRegistry, ToolResult, trace_entry

CANCEL = {
    "name": "cancel_order",
    "kind": "http",
    "description": {"zh": "取消订单", "en": "Cancel an order"},
    "method": "POST",
    "url": "http://127.0.0.1:9/orders/{order_id}/cancel",
    "parameters": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}, "reason": {"type": "string"}},
        "required": ["order_id"],
    },
    "confirm": True,
}


def registry(*tools: dict[str, Any]) -> ToolRegistry:
    return ToolRegistry.from_config(parse_tool_configs(list(tools)), env={})


async def test_openai_tools_format() -> None:
    lookup = {**CANCEL, "name": "get_order", "description": "查询订单", "confirm": False}
    async with registry(CANCEL, lookup) as tools:
        assert tools.openai_tools("en") == [
            {
                "type": "function",
                "function": {
                    "name": "cancel_order",
                    "description": "Cancel an order",
                    "parameters": CANCEL["parameters"],
                },
            },
            {
                "type": "function",
                "function": {
                    "name": "get_order",
                    "description": "查询订单",
                    "parameters": CANCEL["parameters"],
                },
            },
        ]
        assert tools.openai_tools("zh")[0]["function"]["description"] == "取消订单"
        assert "get_order" in tools and len(tools) == 2 and tools.names()[1] == "get_order"
        cancel = tools.get("cancel_order")
        assert cancel is not None and cancel.confirm
        config = tools.config("get_order")
        assert config is not None and not config.confirm


async def test_confirm_prompts() -> None:
    prompt = {"zh": "将取消订单 {order_id}（{reason}），确认吗？", "en": "Cancel {order_id}?"}
    custom = {**CANCEL, "name": "cancel_custom", "confirm_prompt": prompt}
    async with registry(CANCEL, custom) as tools:
        arguments = {"order_id": "W1234567", "reason": "买错了"}
        assert tools.confirm_prompt("cancel_custom", arguments, "zh") == (
            "将取消订单 W1234567（买错了），确认吗？"
        )
        assert tools.confirm_prompt("cancel_custom", arguments, "en") == "Cancel W1234567?"
        assert tools.confirm_prompt("cancel_order", {"order_id": "W1234567"}, "en") == (
            "I'm about to: Cancel an order (order_id=W1234567). "
            "Reply “yes” to go ahead or “no” to cancel."
        )


async def test_an_unknown_tool_is_an_error_result() -> None:
    async with registry(CANCEL) as tools:
        result = await tools.call("drop_tables", {})
    assert (result.outcome, result.error) == ("error", "unknown tool 'drop_tables'")
    assert result.degraded_reply is None


class Crashing:
    name = "crashing"
    description = LocalizedText(zh="坏", en="broken")
    parameters: Mapping[str, Any] = {"type": "object"}
    confirm = False

    async def call(self, arguments: Mapping[str, Any], *, context: ToolContext) -> ToolResult:
        raise KeyError("bug")


async def test_a_tool_that_raises_gives_an_error_result(caplog: pytest.LogCaptureFixture) -> None:
    async with ToolRegistry([Crashing()]) as tools:
        result = await tools.call("crashing", {})
    assert (result.outcome, result.error) == ("error", "the tool failed (KeyError)")
    assert "tool crashing raised" in caplog.text


def test_registering_a_tool_with_a_broken_schema_is_refused() -> None:
    broken = Crashing()
    broken.parameters = {"type": "object", "properties": {"a": {"type": 5}}}
    with pytest.raises(ConfigError) as caught:
        ToolRegistry([broken])
    assert caught.value.key == "crashing"


def test_trace_entry_masks_arguments_and_keeps_the_outcome() -> None:
    result = ToolResult(
        "not_found",
        status_code=404,
        latency_ms=12.345,
        size_bytes=30,
        error="not found: 13812345678",
        data={"x": 1},
    )
    arguments = {"phone": "13812345678", "items": ["13812345678"], "count": 2}
    entry = trace_entry("find_member", arguments, result, mask=lambda s: s.replace("1381234", "*"))
    assert entry == {
        "tool": "find_member",
        "arguments": {"phone": "*5678", "items": ["*5678"], "count": 2},
        "outcome": "not_found",
        "status_code": 404,
        "latency_ms": 12.3,
        "size_bytes": 30,
        "error": "not found: *5678",
    }  # not ok: no result to record


def test_trace_entry_records_the_masked_result_for_replay() -> None:
    mask = lambda s: s.replace("1381234", "*")  # noqa: E731
    found = ToolResult("ok", data={"phone": "13812345678", "level": "gold"}, raw={"a": 1})
    entry = trace_entry("find_member", {"phone": "13812345678"}, found, mask=mask)
    assert entry["result"] == {"data": {"phone": "*5678", "level": "gold"}}
    unmapped = ToolResult("ok", raw=["13812345678"])
    assert trace_entry("t", {}, unmapped, mask=mask)["result"] == {"data": {}, "raw": ["*5678"]}
    huge = ToolResult("ok", data={"text": "x" * 20_000})
    assert "result" not in trace_entry("t", {}, huge, mask=mask)  # too large to keep
