"""Filling config templates at call time: arguments, environment variables and JSON bodies.

The grammar (``{order_id}``, ``{env.NAME}``, ``{env.NAME|default}``) is parsed at load by
:class:`kefu.appfile.tool_config.Template`. Values read from the environment are secrets: every one
used is appended to ``secrets`` so the caller can scrub it from whatever it shows operators.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from kefu.appfile.tool_config import Placeholder, Template
from kefu.core.errors import ToolError

__all__ = ["MissingArgument", "MissingEnv", "format_value", "redact", "render", "render_json"]

REDACTED = "***"


class MissingEnv(ToolError):
    """An ``{env.NAME}`` without a default whose variable is not set."""

    def __init__(self, name: str) -> None:
        super().__init__(f"environment variable {name} is not set")
        self.name = name


class MissingArgument(ToolError):
    """A placeholder whose argument was not given (raised only when rendering strictly)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"argument {name!r} is required")
        self.name = name


def render(
    template: Template,
    arguments: Mapping[str, Any],
    env: Mapping[str, str],
    secrets: list[str],
    *,
    quote: Callable[[str], str] | None = None,
    strict: bool = False,
) -> str:
    """Fill ``template``. A missing argument renders empty, or raises when ``strict``.

    ``quote`` escapes argument values (URL path segments); environment values go in unquoted.
    """
    out: list[str] = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part)
        elif part.env:
            out.append(_read_env(part, env, secrets))
        elif arguments.get(part.name) is not None:
            text = format_value(arguments[part.name])
            out.append(quote(text) if quote else text)
        elif strict:
            raise MissingArgument(part.name)
    return "".join(out)


def render_json(
    body: Any, arguments: Mapping[str, Any], env: Mapping[str, str], secrets: list[str]
) -> Any:
    """Fill every string in a JSON body template.

    A string that is exactly one argument placeholder keeps the argument's JSON type
    (``"{quantity}"`` → ``2``); an object key whose value is such a placeholder with no
    argument given is left out.
    """
    if isinstance(body, dict):
        filled: dict[str, Any] = {}
        for key, value in body.items():
            if _absent_argument(value, arguments):
                continue
            filled[key] = render_json(value, arguments, env, secrets)
        return filled
    if isinstance(body, list):
        return [render_json(item, arguments, env, secrets) for item in body]
    if isinstance(body, str):
        template = Template.parse(body)
        single = template.single
        if single is not None and not single.env:
            return arguments.get(single.name)
        return render(template, arguments, env, secrets)
    return body


def format_value(value: Any) -> str:
    """How an argument reads inside text: JSON spelling for booleans, lists and objects."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool | list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def redact(value: Any, secrets: list[str]) -> Any:
    """``value`` (a string or JSON) with every secret replaced by ``***``."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in sorted(set(secrets), key=len, reverse=True):
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {redact(k, secrets): redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item, secrets) for item in value]
    return value


def _absent_argument(value: Any, arguments: Mapping[str, Any]) -> bool:
    if not isinstance(value, str):
        return False
    single = Template.parse(value).single
    return single is not None and not single.env and arguments.get(single.name) is None


def _read_env(placeholder: Placeholder, env: Mapping[str, str], secrets: list[str]) -> str:
    value = env.get(placeholder.name)
    if value is None:
        if placeholder.default is None:
            raise MissingEnv(placeholder.name)
        return placeholder.default
    if len(value) >= 4:  # shorter values are not secrets, and scrubbing them would mangle text
        secrets.append(value)
    return value
