"""Filling templates and mapping responses, without a network."""

from __future__ import annotations

from typing import Any

import pytest

from kefu.appfile.tool_config import Template
from kefu.tools.mapping import ResponseMapping
from kefu.tools.templates import MissingArgument, MissingEnv, redact, render, render_json

ORDER = {"status": "paid", "items": [{"name": "耳机", "price": 99}, {"name": "壳", "price": 9}]}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("$.status", "paid"),
        ("$.items[1].name", "壳"),
        ("$.missing", None),
        ("$.items[5].name", None),
        ("$.items[*].name", ["耳机", "壳"]),
        ("$.items[0:1].name", ["耳机"]),  # a slice is a list even with one match
        ("$.items[?(@.price > 50)].name", ["耳机"]),
        ("$..price", [99, 9]),
        ("$.nothing[*]", []),
    ],
)
def test_singular_paths_give_a_value_others_a_list(path: str, value: Any) -> None:
    assert ResponseMapping.parse({"field": path}).apply(ORDER, {}) == {"field": value}


def test_rendering_arguments_and_environment() -> None:
    secrets: list[str] = []
    template = Template.parse("{env.BASE|http://h}/o/{id}?v={flag}&n={n}&opt={opt}")
    text = render(template, {"id": "a b", "flag": True, "n": 3}, {}, secrets)
    assert text == "http://h/o/a b?v=true&n=3&opt=" and secrets == []
    assert render(Template.parse("{env.TOKEN}"), {}, {"TOKEN": "abcd1234"}, secrets) == "abcd1234"
    assert secrets == ["abcd1234"]
    with pytest.raises(MissingEnv, match="TOKEN is not set"):
        render(Template.parse("{env.TOKEN}"), {}, {}, [])
    with pytest.raises(MissingArgument):
        render(Template.parse("/o/{id}"), {}, {}, [], strict=True)


def test_json_bodies_keep_argument_types_and_drop_missing_fields() -> None:
    body = {
        "qty": "{qty}",
        "tags": ["{tag}", "x{tag}"],
        "opt": "{opt}",
        "fixed": 1,
        "key": "{env.K}",
    }
    filled = render_json(body, {"qty": 2, "tag": "vip"}, {"K": "key-value"}, [])
    assert filled == {"qty": 2, "tags": ["vip", "xvip"], "fixed": 1, "key": "key-value"}


def test_redact_reaches_into_json() -> None:
    document = {"echo": "Bearer s3cret-token", "list": ["s3cret-token"], "n": 1}
    assert redact(document, ["s3cret-token"]) == {"echo": "Bearer ***", "list": ["***"], "n": 1}
    assert redact("nothing secret", []) == "nothing secret"
