"""The ``tools:`` section of an app file: HTTP and Python tools the bot may call.

Everything that can be checked without calling anything is checked here, at load: template
placeholders (``{order_id}``, ``{env.NAME}``, ``{env.NAME|default}``), that each placeholder
names a declared parameter, JSON Schemas, JSONPath expressions, duplicate names and that a
Python tool's entry point is installed. The runtime lives in :mod:`kefu.tools`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Annotated, Any, Literal

import jsonschema
from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext import parse as parse_jsonpath
from pydantic import (
    AfterValidator,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kefu.appfile._strict import Strict
from kefu.core.errors import ConfigError
from kefu.core.localized import LocalizedText, localize

__all__ = [
    "ENTRY_POINT_GROUP",
    "IDEMPOTENT_METHODS",
    "Placeholder",
    "Template",
    "ToolConfig",
    "ToolList",
    "parse_tool_configs",
]

ENTRY_POINT_GROUP = "kefu.tools"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD"})
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_ARGUMENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_RE = re.compile(r"env\.([A-Za-z_][A-Za-z0-9_]*)(?:\|(.*))?", re.DOTALL)
_HTTP_ONLY = ("method", "url", "headers", "query", "body", "response", "retries", "retry_unsafe")
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


@dataclass(frozen=True, slots=True)
class Placeholder:
    """``{name}`` (an argument) or ``{env.name|default}`` (an environment variable)."""

    name: str
    env: bool = False
    default: str | None = None


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template string; ``{{`` and ``}}`` stand for literal braces."""

    source: str
    parts: tuple[str | Placeholder, ...]

    @classmethod
    def parse(cls, source: str) -> Template:
        """Raises ``ValueError`` quoting the malformed placeholder."""
        parts: list[str | Placeholder] = []
        literal: list[str] = []
        index = 0
        while index < len(source):
            char = source[index]
            if source.startswith("{{", index) or source.startswith("}}", index):
                literal.append(char)
                index += 2
            elif char == "}":
                raise ValueError(f"unmatched '}}' in {source!r} (write '}}}}' for a literal brace)")
            elif char == "{":
                end = source.find("}", index)
                if end < 0:
                    raise ValueError(f"unclosed '{{' in {source!r}")
                if literal:
                    parts.append("".join(literal))
                    literal = []
                parts.append(_placeholder(source[index + 1 : end]))
                index = end + 1
            else:
                literal.append(char)
                index += 1
        if literal:
            parts.append("".join(literal))
        return cls(source, tuple(parts))

    @property
    def arguments(self) -> list[str]:
        return [p.name for p in self.parts if isinstance(p, Placeholder) and not p.env]

    @property
    def env_names(self) -> list[str]:
        return [p.name for p in self.parts if isinstance(p, Placeholder) and p.env]

    @property
    def single(self) -> Placeholder | None:
        """The placeholder when the template is exactly one, with no text around it."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Placeholder):
            return self.parts[0]
        return None


def _placeholder(inner: str) -> Placeholder:
    stripped = inner.strip()
    if _ARGUMENT_RE.fullmatch(stripped) and stripped != "env":
        return Placeholder(stripped)
    match = _ENV_RE.fullmatch(stripped)
    if match:
        return Placeholder(match.group(1), env=True, default=match.group(2))
    raise ValueError(
        f"bad placeholder {{{inner}}}: write {{argument}}, {{env.NAME}} or {{env.NAME|default}}"
    )


class ToolConfig(Strict):
    """One tool. ``kind: http`` calls a URL; ``kind: python`` calls an installed entry point."""

    # Order matters: later validators read `kind` and `parameters` from what came before.
    name: str = Field(description="function name the bot and the LLM use")
    kind: Literal["http", "python"]
    description: LocalizedText | None = Field(None, description="what the tool does, for an LLM")
    parameters: dict[str, Any] | None = Field(None, description="JSON Schema of the arguments")
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] | list[Any] | None = Field(None, description="JSON body template")
    response: dict[str, str] = Field(
        default_factory=dict, description="result field → JSONPath ($...) or template"
    )
    retries: int = Field(1, ge=0, le=5, description="extra attempts after a failure that may pass")
    retry_unsafe: bool = Field(False, description="also retry methods other than GET/HEAD")
    entry_point: str | None = Field(None, description="name in the `kefu.tools` entry-point group")
    timeout_s: float = Field(5.0, gt=0, le=120, description="budget for the whole call")
    confirm: bool = Field(False, description="changes state: act only after the customer agrees")
    confirm_prompt: LocalizedText | None = None
    handoff_on_failure: bool = False
    degraded_reply: LocalizedText | None = None

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError("must start with a-z and hold only a-z, 0-9 and '_' (at most 64)")
        return value

    @field_validator("description", "confirm_prompt", "degraded_reply", mode="before")
    @classmethod
    def _accept_plain_string(cls, value: Any) -> Any:
        return localize(value)

    @field_validator("method", mode="before")
    @classmethod
    def _upper_method(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("parameters")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type") != "object":
            raise ValueError("must be a JSON Schema with `type: object`")
        try:
            jsonschema.Draft202012Validator.check_schema(value)
        except jsonschema.SchemaError as exc:
            where = "/".join(str(part) for part in exc.path)
            raise ValueError(f"not a valid JSON Schema at '{where}': {exc.message}") from None
        return value

    @field_validator(*_HTTP_ONLY)
    @classmethod
    def _http_only(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("kind") == "python":
            raise ValueError("only for `kind: http`")
        return value

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str, info: ValidationInfo) -> str:
        template = _checked(value, _properties(info))
        first = template.parts[0] if template.parts else ""
        starts_with_env = not isinstance(first, str) and first.env
        if not starts_with_env and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http://, https:// or an {env.NAME} base URL")
        required = set(_schema(info).get("required", []))
        for argument in template.arguments:
            if argument not in required:
                raise ValueError(f"{{{argument}}} is in the URL, so it must be in `required`")
        return value

    @field_validator("headers", "query")
    @classmethod
    def _valid_templates(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        for key, text in value.items():
            _checked(text, _properties(info), key=key)
        return value

    @field_validator("body")
    @classmethod
    def _valid_body(cls, value: Any, info: ValidationInfo) -> Any:
        for text in _strings(value):
            _checked(text, _properties(info))
        return value

    @field_validator("response")
    @classmethod
    def _valid_response(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        paths = {key for key, text in value.items() if text.startswith("$")}
        for key, text in value.items():
            if key in paths:
                try:
                    parse_jsonpath(text)
                except JSONPathError as exc:
                    raise ValueError(f"{key}: invalid JSONPath {text!r} ({exc})") from None
            else:
                _checked(text, _properties(info) | paths, key=key, env=False)
        return value

    @field_validator("entry_point")
    @classmethod
    def _installed(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("kind") == "http":
            raise ValueError("only for `kind: python`")
        if not entry_points(group=ENTRY_POINT_GROUP, name=value):
            raise ValueError(
                f"no entry point {value!r} in group {ENTRY_POINT_GROUP!r} is installed "
                "(pip install the package that provides it)"
            )
        return value

    @field_validator("confirm_prompt")
    @classmethod
    def _valid_prompt(cls, value: LocalizedText, info: ValidationInfo) -> LocalizedText:
        _checked(value.zh, _properties(info), key="zh", env=False)
        _checked(value.en, _properties(info), key="en", env=False)
        return value

    @model_validator(mode="after")
    def _required_for_kind(self) -> ToolConfig:
        if self.kind == "http":
            if self.url is None:
                raise ValueError("`url` is required for `kind: http`")
            if self.description is None:
                raise ValueError("`description` is required for `kind: http`")
        elif self.entry_point is None:
            raise ValueError("`entry_point` is required for `kind: python`")
        return self

    @property
    def arguments_schema(self) -> dict[str, Any]:
        """The arguments' JSON Schema (an empty object schema when none is given)."""
        return self.parameters if self.parameters is not None else dict(_EMPTY_SCHEMA)

    @property
    def idempotent(self) -> bool:
        """Whether a failed attempt may be retried (see docs/tools.md)."""
        return self.method in IDEMPOTENT_METHODS or self.retry_unsafe


def _unique_names(tools: list[ToolConfig]) -> list[ToolConfig]:
    counts = Counter(tool.name for tool in tools)
    for name, count in counts.items():
        if count > 1:
            raise ValueError(f"tool name {name!r} is used {count} times; names must be unique")
    return tools


ToolList = Annotated[list[ToolConfig], AfterValidator(_unique_names)]
"""The type of ``AppConfig.tools``: tool configs with unique names."""


def parse_tool_configs(data: Any, *, file: str = "<app>") -> list[ToolConfig]:
    """Validate a parsed ``tools:`` list on its own; errors name the key (``tools.0.url``)."""
    try:
        return TypeAdapter(ToolList).validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(["tools", *(str(part) for part in first["loc"])])
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{first['msg']}{more}", file=file, key=key) from None


def _schema(info: ValidationInfo) -> dict[str, Any]:
    parameters = info.data.get("parameters")
    return parameters if isinstance(parameters, dict) else _EMPTY_SCHEMA


def _properties(info: ValidationInfo) -> set[str]:
    return set(_schema(info).get("properties", {}))


def _checked(text: str, allowed: set[str], *, key: str = "", env: bool = True) -> Template:
    prefix = f"{key}: " if key else ""
    try:
        template = Template.parse(text)
    except ValueError as exc:
        raise ValueError(f"{prefix}{exc}") from None
    if not env and template.env_names:
        raise ValueError(f"{prefix}environment variables are not allowed here")
    for argument in template.arguments:
        if argument not in allowed:
            raise ValueError(f"{prefix}{{{argument}}} is not a declared parameter")
    return template


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []
