"""Answer templates: Jinja2 in its sandbox, compiled once per template text.

A missing variable renders as nothing (``result.tracking`` of an order that has none), and
a template that fails at run time gives ``None`` so the caller answers with a preset reply
instead of an error.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, Template, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment

__all__ = ["render", "render_value"]

log = logging.getLogger(__name__)
_ENVIRONMENT = SandboxedEnvironment(undefined=ChainableUndefined, autoescape=False)


_EXPRESSION = re.compile(r"^\s*\{\{(?P<expression>(?:(?!\}\}|\{\{).)*)\}\}\s*$", re.DOTALL)


@lru_cache(maxsize=1024)
def _expression(text: str) -> Any:
    return _ENVIRONMENT.compile_expression(text, undefined_to_none=False)


@lru_cache(maxsize=1024)
def _compiled(text: str) -> Template:
    return _ENVIRONMENT.from_string(text)


def render(text: str, variables: dict[str, Any]) -> str | None:
    """The template filled in, or None when it cannot be rendered."""
    try:
        return _compiled(text).render(variables).strip()
    except (TemplateError, TypeError, ValueError, AttributeError, KeyError) as exc:
        log.warning("answer template failed: %s", exc)
        return None


def render_value(value: Any, variables: dict[str, Any]) -> Any:
    """A tool argument: ``"{{ user.id }}"`` keeps the value's type (a number stays a number),
    other strings render as text; lists and mappings are filled in item by item. A missing
    value is None."""
    if isinstance(value, dict):
        return {key: render_value(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(item, variables) for item in value]
    if not isinstance(value, str):
        return value
    whole = _EXPRESSION.match(value)
    if whole is None:
        return render(value, variables)
    try:
        result = _expression(whole.group("expression"))(**variables)
    except (TemplateError, TypeError, ValueError, AttributeError, KeyError) as exc:
        log.warning("argument template failed: %s", exc)
        return None
    return None if isinstance(result, Undefined) else result
