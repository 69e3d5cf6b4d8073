"""The `tools:` section is checked at load; each mistake names its key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kefu.appfile.tool_config import Template, parse_tool_configs
from kefu.core.errors import ConfigError

DOCS = Path(__file__).parents[2] / "docs" / "tools.md"
ORDER_ID = {"type": "object", "properties": {"order_id": {"type": "string"}}}


def http(**fields: Any) -> dict[str, Any]:
    return {"name": "get_order", "kind": "http", "description": "d", "url": "http://x/", **fields}


def test_the_documented_example_is_valid() -> None:
    block = re.search(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
    assert block is not None
    tools = yaml.safe_load(block.group(1))["tools"]
    http_tools = [tool for tool in tools if tool["kind"] == "http"]  # lookup_points: not installed
    get_order, cancel_order = parse_tool_configs(http_tools)
    assert get_order.description is not None and get_order.description.en.startswith("Look up")
    assert get_order.idempotent and not cancel_order.idempotent
    assert cancel_order.confirm and cancel_order.confirm_prompt is not None
    assert cancel_order.method == "POST" and cancel_order.body is not None
    with pytest.raises(ConfigError, match="my_company_points") as caught:
        parse_tool_configs(tools)
    assert caught.value.key == "tools.2.entry_point"


def test_defaults() -> None:
    [tool] = parse_tool_configs([http()])
    assert (tool.method, tool.timeout_s, tool.retries, tool.confirm) == ("GET", 5.0, 1, False)
    assert tool.arguments_schema == {"type": "object", "properties": {}}
    assert tool.degraded_reply is None and tool.handoff_on_failure is False


@pytest.mark.parametrize(
    ("tool", "key", "reason"),
    [
        ({"name": "x", "kind": "ftp"}, "tools.0.kind", "'http' or 'python'"),
        (http(name="Get-Order"), "tools.0.name", "must start with a-z"),
        (http(surprise=1), "tools.0.surprise", "Extra inputs are not permitted"),
        (http(method="FETCH"), "tools.0.method", "'GET'"),
        (http(timeout_s=0), "tools.0.timeout_s", "greater than 0"),
        (http(retries=9), "tools.0.retries", "less than or equal to 5"),
        (http(url="http://x/{order_id}"), "tools.0.url", "{order_id} is not a declared parameter"),
        (
            http(url="http://x/{order_id}", parameters=ORDER_ID),
            "tools.0.url",
            "{order_id} is in the URL, so it must be in `required`",
        ),
        (http(url="http://x/{order id}"), "tools.0.url", "bad placeholder {order id}"),
        (http(url="http://x/{order_id"), "tools.0.url", "unclosed '{'"),
        (http(url="http://x/}"), "tools.0.url", "unmatched '}'"),
        (http(url="ftp://x/"), "tools.0.url", "must start with http://"),
        (http(headers={"Authorization": "Bearer {env.}"}), "tools.0.headers", "Authorization: bad"),
        (http(query={"q": "{term}"}), "tools.0.query", "q: {term} is not a declared parameter"),
        (http(body={"a": ["{nope}"]}), "tools.0.body", "{nope} is not a declared parameter"),
        (http(response={"s": "$.items["}), "tools.0.response", "s: invalid JSONPath"),
        (http(response={"s": "{env.TOKEN}"}), "tools.0.response", "not allowed here"),
        (http(response={"s": "{status}"}), "tools.0.response", "{status} is not a declared"),
        (http(parameters={"type": "array"}), "tools.0.parameters", "type: object"),
        (
            http(parameters={"type": "object", "properties": {"a": {"type": "strin"}}}),
            "tools.0.parameters",
            "at 'properties/a/type'",
        ),
        (http(confirm_prompt="取消 {order_id}？"), "tools.0.confirm_prompt", "not a declared"),
        (http(entry_point="x"), "tools.0.entry_point", "only for `kind: python`"),
        ({"name": "x", "kind": "http", "url": "http://x/"}, "tools.0", "`description` is required"),
        ({"name": "x", "kind": "http", "description": "d"}, "tools.0", "`url` is required"),
        ({"name": "x", "kind": "python"}, "tools.0", "`entry_point` is required"),
        (
            {"name": "x", "kind": "python", "entry_point": "nowhere_installed"},
            "tools.0.entry_point",
            "no entry point 'nowhere_installed' in group 'kefu.tools' is installed",
        ),
        (
            {"name": "x", "kind": "python", "entry_point": "e", "url": "http://x/"},
            "tools.0.url",
            "only for `kind: http`",
        ),
    ],
)
def test_mistakes_name_their_key(tool: dict[str, Any], key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_tool_configs([tool], file="apps/shop.yaml")
    assert caught.value.key == key
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"apps/shop.yaml: {key}: ")


def test_duplicate_names() -> None:
    with pytest.raises(ConfigError, match="'get_order' is used 2 times") as caught:
        parse_tool_configs([http(), http(url="http://y/")])
    assert caught.value.key == "tools"


def test_response_templates_may_use_mapped_fields_and_arguments() -> None:
    [tool] = parse_tool_configs(
        [http(parameters=ORDER_ID, response={"status": "$.status", "s": "{order_id}: {status}"})]
    )
    assert tool.response["s"] == "{order_id}: {status}"


def test_a_python_tool_with_an_installed_entry_point(sample_tools: Path) -> None:
    points = {"name": "points", "kind": "python", "entry_point": "sample_points"}
    [tool] = parse_tool_configs([points])
    assert tool.entry_point == "sample_points" and tool.description is None


@pytest.mark.parametrize(
    ("source", "arguments", "env_names"),
    [
        ("{env.SHOP_URL|http://127.0.0.1:8100}/orders/{order_id}", ["order_id"], ["SHOP_URL"]),
        ("Bearer {env.TOKEN}", [], ["TOKEN"]),
        ("{{literal}} {a}{b}", ["a", "b"], []),
        ("plain", [], []),
    ],
)
def test_template_grammar(source: str, arguments: list[str], env_names: list[str]) -> None:
    template = Template.parse(source)
    assert (template.arguments, template.env_names) == (arguments, env_names)


def test_template_defaults_and_literal_braces() -> None:
    template = Template.parse("{{x}} {env.A|http://h:1/p}")
    assert template.parts[0] == "{x} "
    placeholder = template.parts[1]
    assert not isinstance(placeholder, str) and placeholder.default == "http://h:1/p"
    assert Template.parse("{order_id}").single is not None
    assert Template.parse("#{order_id}").single is None
