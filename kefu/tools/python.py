"""Python tools: in-house code, installed under the ``kefu.tools`` entry-point group or registered
directly. The target is a :class:`~kefu.tools.base.Tool` (object or class), or a plain function
that takes the arguments as keywords and returns a dict. Sync functions run in a thread.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from importlib.metadata import entry_points
from typing import Any

from kefu.appfile.tool_config import ENTRY_POINT_GROUP, ToolConfig
from kefu.core.errors import ConfigError
from kefu.core.localized import LocalizedText
from kefu.tools.base import Tool, ToolContext, ToolResult

__all__ = ["PythonTool", "load_entry_point"]

log = logging.getLogger(__name__)
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


class PythonTool:
    """Wraps a function or a Tool with the tool's name, a timeout and failure-to-result."""

    def __init__(
        self,
        name: str,
        target: Tool | Callable[..., Any],
        *,
        description: LocalizedText | str | None = None,
        parameters: Mapping[str, Any] | None = None,
        timeout_s: float = 5.0,
        confirm: bool | None = None,
    ) -> None:
        self.name = name
        self._timeout_s = timeout_s
        self._tool: Tool | None = None
        self._function: Callable[..., Any] | None = None
        if isinstance(target, Tool):
            self._tool = target
            default_description: LocalizedText | str = target.description
            default_parameters: Mapping[str, Any] = target.parameters
            default_confirm = target.confirm
        elif callable(target):
            self._function = target
            doc = (inspect.getdoc(target) or name).strip().splitlines()[0]
            default_description, default_parameters, default_confirm = doc, _EMPTY_SCHEMA, False
            self._wants_context = "context" in inspect.signature(target).parameters
        else:
            raise TypeError(f"tool {name!r}: {target!r} is neither a Tool nor a function")
        text = description if description is not None else default_description
        self.description = LocalizedText(zh=text, en=text) if isinstance(text, str) else text
        self.parameters: Mapping[str, Any] = (
            parameters if parameters is not None else default_parameters
        )
        self.confirm = confirm if confirm is not None else default_confirm

    @classmethod
    def from_config(cls, config: ToolConfig, *, key: str = "entry_point") -> PythonTool:
        """Load the configured entry point; a broken one is a ``ConfigError`` naming ``key``."""
        assert config.entry_point is not None  # checked at load
        target = load_entry_point(config.entry_point, key=key)
        return cls(
            config.name,
            target,
            description=config.description,
            parameters=config.parameters,
            timeout_s=config.timeout_s,
            confirm=config.confirm or None,
        )

    def __repr__(self) -> str:
        return f"PythonTool(name={self.name!r})"

    async def call(self, arguments: Mapping[str, Any], *, context: ToolContext) -> ToolResult:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout_s):
                value = await self._run(arguments, context)
        except TimeoutError:
            return _result("timeout", started, error=f"no answer within {self._timeout_s:g} s")
        except Exception as exc:
            log.warning("tool %s raised %s", self.name, type(exc).__name__, exc_info=True)
            return _result("error", started, error=_describe(exc))
        if isinstance(value, ToolResult):
            latency = value.latency_ms or (time.perf_counter() - started) * 1000
            return replace(value, latency_ms=latency)
        if value is None:
            data: dict[str, Any] = {}
        elif isinstance(value, Mapping):
            data = dict(value)
        else:
            data = {"result": value}
        size = len(json.dumps(data, ensure_ascii=False, default=str).encode())
        return _result("ok", started, data=data, size_bytes=size)

    async def _run(self, arguments: Mapping[str, Any], context: ToolContext) -> Any:
        if self._tool is not None:
            return await self._tool.call(arguments, context=context)
        assert self._function is not None
        kwargs = dict(arguments)
        if self._wants_context:
            kwargs["context"] = context
        if inspect.iscoroutinefunction(self._function):
            return await self._function(**kwargs)
        value = await asyncio.to_thread(self._function, **kwargs)
        return await value if inspect.isawaitable(value) else value


def load_entry_point(name: str, *, key: str = "entry_point") -> Tool | Callable[..., Any]:
    """The object behind ``name`` in the ``kefu.tools`` group; a Tool class is instantiated."""
    found = entry_points(group=ENTRY_POINT_GROUP, name=name)
    if not found:
        raise ConfigError(f"no entry point {name!r} in group {ENTRY_POINT_GROUP!r}", key=key)
    entry_point = next(iter(found))
    try:
        target = entry_point.load()
    except Exception as exc:
        raise ConfigError(
            f"cannot load entry point {name!r} ({entry_point.value}): {_describe(exc)}", key=key
        ) from None
    if isinstance(target, type) and hasattr(target, "call"):
        try:
            target = target()
        except Exception as exc:
            raise ConfigError(f"cannot create tool {name!r}: {_describe(exc)}", key=key) from None
    if not isinstance(target, Tool) and not callable(target):
        raise ConfigError(f"entry point {name!r} is neither a Tool nor a function", key=key)
    return target


def _result(outcome: Any, started: float, **fields: Any) -> ToolResult:
    return ToolResult(outcome, latency_ms=(time.perf_counter() - started) * 1000, **fields)


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"
