"""Python tools: real entry points from an installed distribution, and programmatic ones."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import pytest

from kefu.appfile.tool_config import parse_tool_configs
from kefu.core.errors import ConfigError
from kefu.core.localized import LocalizedText
from kefu.tools import PythonTool, ToolContext, ToolRegistry, ToolResult

pytestmark = pytest.mark.usefixtures("sample_tools")


def python_tool(name: str, entry_point: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "kind": "python", "entry_point": entry_point, **fields}


def registry(*tools: dict[str, Any]) -> ToolRegistry:
    return ToolRegistry.from_config(parse_tool_configs(list(tools)), env={})


async def test_a_sync_entry_point_runs_with_keyword_arguments() -> None:
    points = python_tool(
        "lookup_points",
        "sample_points",
        parameters={
            "type": "object",
            "properties": {"member_id": {"type": "string"}},
            "required": ["member_id"],
        },
    )
    async with registry(points) as tools:
        result = await tools.call("lookup_points", {"member_id": "M001"})
        invalid = await tools.call("lookup_points", {})
        [spec] = tools.openai_tools("en")
    assert result.outcome == "ok" and result.data == {"member_id": "M001", "points": 1200}
    assert result.size_bytes == len(b'{"member_id": "M001", "points": 1200}')
    assert invalid.outcome == "invalid_arguments"
    assert spec["function"]["description"] == "Look up a member's points."  # the docstring


async def test_an_async_entry_point_gets_the_context() -> None:
    coupons = python_tool(
        "coupons",
        "sample_coupons",
        description={"zh": "查询优惠券", "en": "Coupons"},
        parameters={"type": "object", "properties": {"member_id": {"type": "string"}}},
    )
    async with registry(coupons) as tools:
        result = await tools.call("coupons", {"member_id": "M1"}, ToolContext(language="en"))
    assert result.data == {"coupons": ["满100减10"], "language": "en"}


async def test_a_tool_class_entry_point_keeps_its_own_description_and_schema() -> None:
    async with registry(python_tool("hours", "sample_hours")) as tools:
        result = await tools.call("hours", {"city": "杭州"})
        [spec] = tools.openai_tools("zh")
        wrong = await tools.call("hours", {"city": 1})
    assert result.data == {"city": "杭州", "hours": "9:00-21:00"}
    assert spec["function"] == {
        "name": "hours",
        "description": "门店营业时间",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    assert wrong.outcome == "invalid_arguments"


async def test_a_slow_sync_function_times_out() -> None:
    slow = python_tool("slow", "sample_slow", timeout_s=0.1, degraded_reply="稍后再试")
    async with registry(slow) as tools:
        started = time.perf_counter()
        result = await tools.call("slow", {})
    assert result.outcome == "timeout" and result.error == "no answer within 0.1 s"
    assert time.perf_counter() - started < 0.3
    assert result.degraded_reply == LocalizedText(zh="稍后再试", en="稍后再试")


async def test_an_exception_becomes_an_error_result(caplog: pytest.LogCaptureFixture) -> None:
    broken = python_tool("broken", "sample_broken", handoff_on_failure=True)
    async with registry(broken) as tools:
        result = await tools.call("broken", {})
    assert (result.outcome, result.error) == ("error", "RuntimeError: points database is down")
    assert result.handoff is True
    assert "tool broken raised RuntimeError" in caplog.text


def test_an_entry_point_that_cannot_import_fails_when_the_tools_are_built() -> None:
    configs = parse_tool_configs(
        [python_tool("fine", "sample_points"), python_tool("gone", "sample_not_importable")]
    )
    with pytest.raises(ConfigError, match="kefu_sample_tools_gone") as caught:
        ToolRegistry.from_config(configs)
    assert caught.value.key == "tools.1.entry_point"


async def test_programmatic_registration_of_functions_and_tools() -> None:
    calls: list[dict[str, Any]] = []

    async def reserve(slot: str) -> dict[str, Any]:
        calls.append({"slot": slot})
        return {"reserved": slot}

    def not_found(code: str) -> ToolResult:
        return ToolResult("not_found", error=f"no coupon {code}")

    class Weather:
        name = "weather"
        description = LocalizedText(zh="天气", en="Weather")
        parameters: Mapping[str, Any] = {"type": "object", "properties": {}}
        confirm = False

        async def call(self, arguments: Mapping[str, Any], *, context: ToolContext) -> ToolResult:
            await asyncio.sleep(0)
            return ToolResult("ok", data={"sky": "clear"})

    schema = {"type": "object", "properties": {"slot": {"type": "string"}}, "required": ["slot"]}
    async with ToolRegistry() as tools:
        tools.register(PythonTool("reserve", reserve, parameters=schema, confirm=True))
        tools.register(PythonTool("coupon", not_found, description="查优惠券"))
        tools.register(Weather())
        assert tools.names() == ["reserve", "coupon", "weather"]
        reserved = await tools.call("reserve", {"slot": "10:00"})
        missing = await tools.call("coupon", {"code": "X"})
        weather = await tools.call("weather", {})
        with pytest.raises(ValueError, match="already registered"):
            tools.register(Weather())
    assert reserved.data == {"reserved": "10:00"} and calls == [{"slot": "10:00"}]
    reserve_tool = tools.get("reserve")
    assert reserve_tool is not None and reserve_tool.confirm
    assert (missing.outcome, missing.error) == ("not_found", "no coupon X")
    assert missing.latency_ms > 0
    assert weather.data == {"sky": "clear"}


def test_something_that_is_not_a_tool_is_refused() -> None:
    with pytest.raises(TypeError, match="neither a Tool nor a function"):
        PythonTool("x", 42)  # type: ignore[arg-type]
