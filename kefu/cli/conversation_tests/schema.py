"""The YAML format of conversation tests, validated with pydantic; errors name file and line.

```yaml
x-reset: &reset             # top-level x-… keys are free: for YAML anchors
  - http: "POST {env.KEFU_DEMO_SHOP_URL|http://127.0.0.1:8100}/_reset"
setup: *reset               # optional: HTTP steps before every test of the file
tests:
  - name: order status asks for the number, then answers from the shop
    user: alice             # optional end-user id (default: one per test and run)
    inputs: {}              # optional app inputs
    setup: []               # optional HTTP steps before this test; teardown: after it
    turns:
      - say: 帮我查一下订单
        expect: {route: flow, flow: order_status, asks: order_id, contains: 订单号}
      - say: "#W2378156"
        expect:
          tool_calls: [{tool: get_order, arguments: {order_id: "#W2378156"}, outcome: ok}]
          contains: [已签收]
```
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kefu.appfile.tool_config import Template
from kefu.appfile.yaml_lint import find_cut_values
from kefu.core.errors import ConfigError

__all__ = [
    "ConversationTest",
    "Expect",
    "HttpStep",
    "TestFile",
    "ToolCallExpect",
    "Turn",
    "find_test_files",
    "load_test_file",
]

HandoffState = Literal["bot", "pending_human", "human", "resolved"]
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_list(value: Any) -> Any:
    """One text or a list of them; numbers read as text (``contains: 58.4``)."""

    def text(item: Any) -> Any:
        return str(item) if isinstance(item, int | float) and not isinstance(item, bool) else item

    if isinstance(value, list):
        return [text(item) for item in value]
    return None if value is None else [text(value)]


class HttpStep(_Strict):
    """One HTTP request before or after a test (reset a shop, inject a fault).

    ``http`` is ``"METHOD URL"``; the URL may use ``{env.NAME}`` and ``{env.NAME|default}``.
    A response status of 400 or more fails the test."""

    http: str
    json_body: Any = Field(default=None, alias="json")
    headers: dict[str, str] = {}

    @field_validator("http")
    @classmethod
    def _method_and_url(cls, value: str) -> str:
        method, _, url = value.strip().partition(" ")
        if method.upper() not in METHODS or not url.strip():
            raise ValueError(f"write the step as 'METHOD URL' with METHOD one of {METHODS}")
        Template.parse(url.strip())  # a malformed {placeholder} fails here, with the file
        return f"{method.upper()} {url.strip()}"

    @property
    def method(self) -> str:
        return self.http.split(" ", 1)[0]

    @property
    def url_template(self) -> str:
        return self.http.split(" ", 1)[1]


class ToolCallExpect(_Strict):
    """A tool the bot called this turn; ``arguments`` need only include those that matter."""

    tool: str
    arguments: dict[str, Any] = {}
    outcome: str | None = None  # ok, not_found, timeout, unavailable, error…


class Expect(_Strict):
    """What must be true after a turn. Only the keys written are checked; ``null`` asserts
    absence (``intent: null``: no confident intent; ``flow: null``: no flow)."""

    route: list[str] | None = None  # one of these routes
    intent: str | None = None
    flow: str | None = None  # the flow this turn worked on
    asks: str | None = None  # the slot the bot asks for
    slots: dict[str, Any] | None = None  # the flow's slots after the turn (a subset)
    tool_calls: list[ToolCallExpect] | None = None  # in order; [] = no call
    handoff: HandoffState | None = None  # who owns the conversation after the turn
    language: Literal["zh", "en"] | None = None
    answer: str | None = None  # the whole answer ("" = the bot stays silent)
    contains: list[str] = []
    not_contains: list[str] = []
    matches: str | None = None  # a regular expression searched in the answer
    cites: list[str] = []  # sources: an FAQ id / segment id or a document name

    _route = field_validator("route", "contains", "not_contains", "cites", mode="before")(_as_list)

    @field_validator("matches")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value

    def given(self, key: str) -> bool:
        """Whether the file wrote ``key`` (also as ``null``)."""
        return key in self.model_fields_set


class Turn(_Strict):
    """What the customer says, and what must be true after the bot's reply."""

    say: str
    expect: Expect = Expect()
    setup: list[HttpStep] = []  # HTTP steps just before this turn (the shop recovers…)

    @model_validator(mode="before")
    @classmethod
    def _plain_text(cls, value: Any) -> Any:
        return {"say": value} if isinstance(value, str) else value

    @field_validator("say")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the customer must say something")
        return value


class ConversationTest(_Strict):
    """One conversation, from a new customer's first message."""

    name: str = Field(min_length=1)
    user: str | None = None
    inputs: dict[str, Any] = {}
    setup: list[HttpStep] = []
    teardown: list[HttpStep] = []
    turns: list[Turn] = Field(min_length=1)
    # where the test starts in its file (set by the loader, not written in YAML)
    line: int = Field(default=0, exclude=True)


class TestFile(_Strict):
    """A file of tests; its ``setup``/``teardown`` run around every test in it."""

    __test__ = False  # not a pytest class

    setup: list[HttpStep] = []
    teardown: list[HttpStep] = []
    tests: list[ConversationTest] = Field(min_length=1)
    path: Path = Field(default=Path(), exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _extension_keys(cls, value: Any) -> Any:
        """Top-level ``x-…`` keys are free, for YAML anchors (``x-shop: &shop …``)."""
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if not str(k).startswith("x-")}
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> TestFile:
        seen: set[str] = set()
        for test in self.tests:
            if test.name in seen:
                raise ValueError(f"two tests are named {test.name!r}")
            seen.add(test.name)
        return self


def _lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    """The line (1-based) of each key and list item, by its path of keys and indexes.

    PyYAML's loaders drop positions, so the composed node tree is walked once by hand
    (``yaml.compose`` keeps the marks; no maintained loader maps pydantic locations)."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value
            out[(*path, name)] = key.start_mark.line + 1
            _lines(value, (*path, name), out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out[(*path, index)] = item.start_mark.line + 1
            _lines(item, (*path, index), out)


def _line_of(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def load_test_file(path: Path) -> TestFile:
    """Read and validate one test file; a mistake is a ``ConfigError`` naming ``file:line``
    and the key (``tests.0.turns.1.expect.route``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the file ({exc})", file=str(path)) from None
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML: {problem}", file=where) from None
    for cut in find_cut_values(text):  # an expectation cut short would test the wrong text
        raise ConfigError(cut.describe().split(": ", 1)[1], file=f"{path}:{cut.line}")
    if not isinstance(data, dict):
        raise ConfigError("a test file holds a mapping with a `tests:` list", file=f"{path}:1")
    lines: dict[tuple[Any, ...], int] = {}
    if root is not None:
        _lines(root, (), lines)
    try:
        parsed = TestFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(part for part in first["loc"] if not str(part).startswith("function-"))
        key = ".".join(str(part) for part in loc) or None
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(
            f"{message}{more}", file=f"{path}:{_line_of(loc, lines)}", key=key
        ) from None
    tests = [
        test.model_copy(update={"line": lines.get(("tests", index), 1)})
        for index, test in enumerate(parsed.tests)
    ]
    return parsed.model_copy(update={"tests": tests, "path": path})


def find_test_files(paths: list[Path]) -> list[Path]:
    """The ``*.yaml``/``*.yml`` files under ``paths`` (folders searched recursively), sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
        elif path.is_file():
            found.append(path)
        else:
            raise ConfigError("no such test file or folder", file=str(path))
    if not found:
        raise ConfigError("no test files (*.yaml) found", file=", ".join(map(str, paths)))
    return found
