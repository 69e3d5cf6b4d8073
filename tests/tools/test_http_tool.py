"""HTTP tools against a real order service on a loopback port."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from kefu.appfile.tool_config import parse_tool_configs
from kefu.tools import ToolRegistry, ToolResult, trace_entry
from tests.servers import free_port
from tests.tools.order_service import Shop

pytestmark = pytest.mark.integration

ORDER_PARAMETERS = {
    "type": "object",
    "properties": {"order_id": {"type": "string", "pattern": "^#?[Ww]\\d{7}$"}},
    "required": ["order_id"],
}


def registry(*tools: dict[str, Any], env: dict[str, str] | None = None) -> ToolRegistry:
    configs = parse_tool_configs([{"kind": "http", "description": "test", **t} for t in tools])
    return ToolRegistry.from_config(configs, env=env or {})


def get_order(shop: Shop, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "get_order",
        "url": f"{shop.url}/orders/{{order_id}}",
        "parameters": ORDER_PARAMETERS,
        **overrides,
    }


async def test_get_maps_the_response_fields(shop: Shop) -> None:
    mapping = {
        "status": "$.status",
        "items": "$.items[*].name",
        "first_item": "$.items[0].name",
        "refund": "$.refund",
        "summary": "订单 {order_id}：{status}，{items}",
    }
    async with registry(get_order(shop, response=mapping)) as tools:
        result = await tools.call("get_order", {"order_id": "W1234567"})
    assert result.outcome == "ok" and result.ok and result.status_code == 200
    assert result.data == {
        "status": "shipped",
        "items": ["蓝牙耳机", "手机壳"],
        "first_item": "蓝牙耳机",
        "refund": None,
        "summary": "订单 W1234567：shipped，蓝牙耳机、手机壳",
    }
    assert result.raw["carrier"] == "顺丰"
    assert result.size_bytes > 50 and result.latency_ms > 0
    assert json.loads(result.model_content())["data"]["status"] == "shipped"


async def test_path_parameters_are_url_encoded(shop: Shop) -> None:
    thing = {
        "name": "get_thing",
        "url": f"{shop.url}/things/{{thing}}",
        "parameters": {
            "type": "object",
            "properties": {"thing": {"type": "string"}},
            "required": ["thing"],
        },
    }
    async with registry(thing, get_order(shop)) as tools:
        result = await tools.call("get_thing", {"thing": "a/b?c=d #e"})
        order = await tools.call("get_order", {"order_id": "#W1234567"})
    assert shop.paths() == ["/things/a%2Fb%3Fc%3Dd%20%23e", "/orders/%23W1234567"]
    assert result.data == {"thing": "a/b?c=d #e"}
    assert order.ok


async def test_post_fills_the_body_template_keeping_argument_types(shop: Shop) -> None:
    cancel = {
        "name": "cancel_order",
        "method": "post",
        "url": f"{shop.url}/orders/{{order_id}}/cancel",
        "query": {"source": "kefu", "channel": "{channel}"},
        "body": {
            "reason": "{reason}",
            "quantity": "{quantity}",
            "note": "客服取消 {order_id}",
            "tags": ["bot", "{reason}"],
            "channel": "{channel}",
        },
        "parameters": {
            "type": "object",
            "properties": {
                "order_id": {"type": "string"},
                "reason": {"type": "string"},
                "quantity": {"type": "integer"},
                "channel": {"type": "string"},
            },
            "required": ["order_id", "reason"],
        },
        "confirm": True,
        "response": {"cancelled": "$.cancelled"},
    }
    arguments = {"order_id": "W1234567", "reason": "不想要了", "quantity": 2}
    async with registry(cancel) as tools:
        result = await tools.call("cancel_order", arguments)
    assert result.data == {"cancelled": True}
    [hit] = shop.hits
    assert hit.method == "POST" and hit.path == "/orders/W1234567/cancel?source=kefu"
    assert hit.headers["content-type"] == "application/json"
    assert json.loads(hit.body) == {
        "reason": "不想要了",
        "quantity": 2,
        "note": "客服取消 W1234567",
        "tags": ["bot", "不想要了"],
    }


async def test_404_is_not_found_without_degraded_reply(shop: Shop) -> None:
    tool = get_order(shop, handoff_on_failure=True, degraded_reply="系统繁忙")
    async with registry(tool) as tools:
        result = await tools.call("get_order", {"order_id": "W7654321"})
    assert result.outcome == "not_found" and result.status_code == 404
    assert result.error == "not found (HTTP 404): no order W7654321"
    assert result.degraded_reply is None and result.handoff is False


async def test_5xx_is_unavailable_and_get_is_retried(shop: Shop) -> None:
    flaky = {
        "name": "flaky",
        "url": f"{shop.url}/flaky",
        "retries": 2,
        "handoff_on_failure": True,
        "degraded_reply": {"zh": "系统繁忙", "en": "The system is busy"},
    }
    async with registry(flaky) as tools:
        result = await tools.call("flaky", {})
    assert result.outcome == "unavailable" and result.status_code == 500
    assert shop.paths() == ["/flaky"] * 3
    assert result.error == "HTTP 500: database down (after 3 attempts)"
    assert result.degraded_reply is not None and result.degraded_reply.get("en") == (
        "The system is busy"
    )
    assert result.handoff is True


@pytest.mark.parametrize(("retry_unsafe", "hits"), [(False, 1), (True, 3)])
async def test_post_is_retried_only_when_declared_safe(
    shop: Shop, retry_unsafe: bool, hits: int
) -> None:
    flaky = {
        "name": "flaky",
        "method": "POST",
        "url": f"{shop.url}/flaky",
        "retries": 2,
        "retry_unsafe": retry_unsafe,
    }
    async with registry(flaky) as tools:
        result = await tools.call("flaky", {})
    assert result.outcome == "unavailable"
    assert len(shop.hits) == hits


async def test_429_is_unavailable(shop: Shop) -> None:
    async with registry({"name": "busy", "url": f"{shop.url}/busy", "retries": 0}) as tools:
        result = await tools.call("busy", {})
    assert (result.outcome, result.status_code, result.error) == (
        "unavailable",
        429,
        "HTTP 429: slow down",
    )


async def test_timeout_bounds_the_whole_call(shop: Shop) -> None:
    slow = {"name": "slow", "url": f"{shop.url}/slow", "timeout_s": 0.3, "retries": 3}
    async with registry(slow) as tools:
        started = time.perf_counter()
        result = await tools.call("slow", {})
        elapsed = time.perf_counter() - started
    assert result.outcome == "timeout" and result.error == "no answer within 0.3 s"
    assert 0.25 < elapsed < 0.6
    assert len(shop.hits) == 1  # no time left to retry


async def test_connection_refused_is_unavailable_and_retried() -> None:
    tool = {"name": "down", "method": "POST", "url": f"http://127.0.0.1:{free_port()}/x"}
    async with registry(tool) as tools:
        result = await tools.call("down", {})
    assert result.outcome == "unavailable" and result.status_code is None
    assert result.error == "could not connect to the service (after 2 attempts)"


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"order_id": "12345"}, "order_id: '12345' does not match '^#?[Ww]\\\\d{7}$'"),
        ({}, "'order_id' is a required property"),
        ('{"order_id": 7}', "order_id: 7 is not of type 'string'"),
        ("not json", "arguments are not valid JSON"),
        ("[1]", "arguments must be a JSON object"),
    ],
)
async def test_invalid_arguments_make_no_request(shop: Shop, arguments: Any, error: str) -> None:
    async with registry(get_order(shop)) as tools:
        result = await tools.call("get_order", arguments)
    assert (result.outcome, result.error) == ("invalid_arguments", error)
    assert shop.hits == []


async def test_arguments_may_be_the_json_string_of_an_llm_tool_call(shop: Shop) -> None:
    async with registry(get_order(shop)) as tools:
        result = await tools.call("get_order", '{"order_id": "w1234567"}')
    assert result.ok and result.data["status"] == "shipped"


async def test_env_default_is_used_when_the_variable_is_unset(shop: Shop) -> None:
    tool = get_order(shop, url="{env.SHOP_URL|http://127.0.0.1:1}/orders/{order_id}")
    async with registry(tool, env={"SHOP_URL": shop.url}) as tools:
        assert (await tools.call("get_order", {"order_id": "W1234567"})).ok
    tool = get_order(shop, url=f"{{env.SHOP_URL|{shop.url}}}/orders/{{order_id}}")
    async with registry(tool, env={}) as tools:
        assert (await tools.call("get_order", {"order_id": "W1234567"})).ok
    assert len(shop.hits) == 2


async def test_missing_env_without_default_fails_the_call_not_the_load(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    tool = get_order(shop, headers={"Authorization": "Bearer {env.SHOP_TOKEN}"})
    with caplog.at_level(logging.WARNING, logger="kefu.tools"):
        tools = registry(tool, env={})
    assert "environment variable SHOP_TOKEN is not set" in caplog.text
    async with tools:
        result = await tools.call("get_order", {"order_id": "W1234567"})
    assert (result.outcome, result.error) == ("error", "environment variable SHOP_TOKEN is not set")
    assert shop.hits == []


SECRET = "sk-live-7f3a9c1e5b"


@pytest.mark.parametrize("route", ["reject", "flaky", "echo"])
async def test_a_secret_from_env_never_leaks(
    shop: Shop, route: str, caplog: pytest.LogCaptureFixture
) -> None:
    tool = {
        "name": "leaky",
        "url": f"{shop.url}/{route}",
        "headers": {"Authorization": "Bearer {env.SHOP_TOKEN}"},
        "retries": 0,
    }
    with caplog.at_level(logging.DEBUG):
        async with registry(tool, env={"SHOP_TOKEN": SECRET}) as tools:
            result = await tools.call("leaky", {})
            tool_repr = repr(tools.get("leaky"))
    assert shop.hits[0].headers["authorization"] == f"Bearer {SECRET}"  # it was sent
    entry = trace_entry("leaky", {}, result, mask=lambda text: text)
    seen = " ".join([repr(result), result.model_content(), json.dumps(entry), tool_repr])
    assert SECRET not in seen + caplog.text
    if route == "reject":
        assert result.error == "HTTP 400: token Bearer *** rejected"
    if route == "echo":
        assert result.data["auth"] == "Bearer ***"


async def test_other_4xx_is_an_error_with_the_service_message(shop: Shop) -> None:
    async with registry({"name": "reject", "url": f"{shop.url}/reject"}) as tools:
        result = await tools.call("reject", {})
    assert (result.outcome, result.status_code) == ("error", 400)
    assert result.error == "HTTP 400: token None rejected"
    assert result.degraded_reply is None


async def test_a_non_json_response(shop: Shop) -> None:
    plain = {"name": "plain", "url": f"{shop.url}/html"}
    mapped = {"name": "mapped", "url": f"{shop.url}/html", "response": {"status": "$.status"}}
    async with registry(plain, mapped) as tools:
        text = await tools.call("plain", {})
        broken = await tools.call("mapped", {})
    assert text.ok and text.raw == "<html>maintenance</html>" and text.data == {}
    assert (broken.outcome, broken.error) == ("error", "the response is not JSON")


async def test_a_response_over_the_size_limit_is_an_error(shop: Shop) -> None:
    async with registry({"name": "big", "url": f"{shop.url}/big"}) as tools:
        result = await tools.call("big", {})
    assert (result.outcome, result.error) == ("error", "response larger than 1000000 bytes")


def test_results_are_plain_values() -> None:
    result = ToolResult("timeout", error="no answer within 3 s")
    assert not result.ok and result.data == {} and result.raw is None
    assert json.loads(result.model_content()) == {
        "outcome": "timeout",
        "error": "no answer within 3 s",
    }
