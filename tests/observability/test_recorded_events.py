"""Metrics recorded away from the turn's HTTP path: tool calls; switching recording off.
(Hand-overs and the queue: tests/handoff/test_handoff_metrics.py.)"""

from __future__ import annotations

from prometheus_client import REGISTRY

from kefu.appfile.tool_config import parse_tool_configs
from kefu.observability import metrics
from kefu.tools import ToolRegistry

LOOKUP = {
    "name": "lookup_order",
    "kind": "http",
    "description": "查询订单",
    "url": "http://127.0.0.1:9/orders/{order_id}",  # nothing listens on port 9
    "timeout_s": 0.5,
    "parameters": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
    },
}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_tool_calls_by_tool_and_outcome_with_latency() -> None:
    before = {
        outcome: sample("kefu_tool_calls_total", tool="lookup_order", outcome=outcome)
        for outcome in ("unavailable", "invalid_arguments")
    }
    timed = sample("kefu_tool_call_duration_seconds_count", tool="lookup_order")
    unknown = sample("kefu_tool_calls_total", tool="<unknown>", outcome="error")
    async with ToolRegistry.from_config(parse_tool_configs([LOOKUP]), env={}) as tools:
        down = await tools.call("lookup_order", {"order_id": "A1"})
        bad = await tools.call("lookup_order", {"order": "A1"})
        made_up = await tools.call("a_name_a_model_invented_" + "x" * 50, {})
    assert (down.outcome, bad.outcome, made_up.outcome) == (
        "unavailable",
        "invalid_arguments",
        "error",
    )
    for outcome in before:
        moved = sample("kefu_tool_calls_total", tool="lookup_order", outcome=outcome)
        assert moved - before[outcome] == 1, outcome
    assert sample("kefu_tool_call_duration_seconds_count", tool="lookup_order") - timed == 2
    assert sample("kefu_tool_calls_total", tool="<unknown>", outcome="error") - unknown == 1


def test_recording_can_be_switched_off() -> None:
    before = sample("kefu_rate_limited_total", limit="key")
    metrics.configure(enabled=False)
    try:
        metrics.rate_limited("key")
    finally:
        metrics.configure(enabled=True)
    assert sample("kefu_rate_limited_total", limit="key") == before
    metrics.rate_limited("key")
    assert sample("kefu_rate_limited_total", limit="key") == before + 1
