"""The tools of one app: built from its ``tools:`` config, called by name, closed with the app.

The registry is the one place a call goes through: it checks the arguments against the tool's
JSON Schema, turns an unknown name or a crashing tool into a non-ok result, adds the configured
degraded reply and handoff flag to failures, counts it in the metrics and logs one line per
call: name, outcome, status and latency (never arguments, headers, environment values or error
text).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import httpx
import jsonschema

from kefu.appfile.tool_config import Template, ToolConfig
from kefu.core.errors import ConfigError
from kefu.core.types import Language
from kefu.observability import metrics
from kefu.tools.base import FAILURES, Tool, ToolContext, ToolResult
from kefu.tools.http import HttpTool
from kefu.tools.python import PythonTool
from kefu.tools.templates import format_value

__all__ = ["ToolRegistry"]

log = logging.getLogger(__name__)

_DEFAULT_CONFIRM = {
    "zh": "我将为您执行：{action}（{details}）。确认请回复“是”，取消请回复“否”。",
    "en": "I'm about to: {action} ({details}). Reply “yes” to go ahead or “no” to cancel.",
}


class ToolRegistry:
    """Tools by name, sharing one HTTP client. Close it with :meth:`aclose`."""

    def __init__(
        self, tools: Iterable[Tool] = (), *, client: httpx.AsyncClient | None = None
    ) -> None:
        self._fixed_client = client
        self._clients: dict[int, httpx.AsyncClient] = {}
        self._tools: dict[str, Tool] = {}
        self._configs: dict[str, ToolConfig] = {}
        self._validators: dict[str, jsonschema.protocols.Validator] = {}
        for tool in tools:
            self.register(tool)

    @classmethod
    def from_config(
        cls, configs: Sequence[ToolConfig], *, env: Mapping[str, str] = os.environ
    ) -> ToolRegistry:
        """Build the tools of an app. ``env`` is read at each call, so secrets are never kept.

        Raises ``ConfigError`` (key ``tools.N.entry_point``) when an entry point cannot load.
        """
        registry = cls()
        for index, config in enumerate(configs):
            tool: Tool
            if config.kind == "http":
                tool = HttpTool(config, registry.http_client, env)
                for name in _env_without_default(config):
                    if name not in env:
                        log.warning("tool %s: environment variable %s is not set", tool.name, name)
            else:
                tool = PythonTool.from_config(config, key=f"tools.{index}.entry_point")
            registry.register(tool, config=config)
        return registry

    def register(self, tool: Tool, *, config: ToolConfig | None = None) -> None:
        """Add a tool (in-house code: a :class:`~kefu.tools.python.PythonTool` or any Tool)."""
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        try:
            jsonschema.Draft202012Validator.check_schema(dict(tool.parameters))
        except jsonschema.SchemaError as exc:
            raise ConfigError(f"invalid parameters schema: {exc.message}", key=tool.name) from None
        self._tools[tool.name] = tool
        self._validators[tool.name] = jsonschema.Draft202012Validator(dict(tool.parameters))
        if config is not None:
            self._configs[tool.name] = config

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def config(self, name: str) -> ToolConfig | None:
        """The app-file config of a tool (``confirm``, ``handoff_on_failure`` …), if it has one."""
        return self._configs.get(name)

    def names(self) -> list[str]:
        return list(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def openai_tools(self, language: Language) -> list[dict[str, Any]]:
        """The tools in OpenAI's ``tools`` request format, described in ``language``."""
        return [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description.get(language),
                    "parameters": dict(tool.parameters),
                },
            }
            for tool in self._tools.values()
        ]

    def confirm_prompt(self, name: str, arguments: Mapping[str, Any], language: Language) -> str:
        """What the bot asks before a ``confirm`` tool runs: the configured prompt, or a default
        listing the action and its arguments."""
        tool = self._tools[name]
        config = self._configs.get(name)
        if config is not None and config.confirm_prompt is not None:
            template = Template.parse(config.confirm_prompt.get(language))
            return "".join(
                part if isinstance(part, str) else format_value(arguments.get(part.name))
                for part in template.parts
            )
        details = ", ".join(f"{key}={format_value(value)}" for key, value in arguments.items())
        return _DEFAULT_CONFIRM[language].format(
            action=tool.description.get(language), details=details
        )

    async def call(
        self,
        name: str,
        arguments: Mapping[str, Any] | str,
        context: ToolContext | None = None,
    ) -> ToolResult:
        """Call a tool. Never raises for a failure: the result's ``outcome`` says what happened.

        ``arguments`` may be the JSON string an LLM's tool call carries.
        """
        started = time.perf_counter()
        tool = self._tools.get(name)
        if tool is None:
            result = ToolResult("error", error=f"unknown tool {name!r}")
        else:
            checked = self._check(name, arguments)
            if isinstance(checked, ToolResult):
                result = checked
            else:
                result = await self._call(tool, checked, context or ToolContext())
        if not result.latency_ms:
            result = replace(result, latency_ms=(time.perf_counter() - started) * 1000)
        config = self._configs.get(name)
        if config is not None and result.outcome in FAILURES:
            result = replace(
                result,
                degraded_reply=result.degraded_reply or config.degraded_reply,
                handoff=result.handoff or config.handoff_on_failure,
            )
        # A name a model made up is not a label value: label sets must stay bounded.
        metrics.tool_called(name if tool else "<unknown>", result.outcome, result.latency_ms / 1000)
        # No arguments and no error text: they may hold customer data (the trace masks them).
        log.log(
            logging.WARNING if result.outcome in FAILURES else logging.INFO,
            "tool %s: %s (status %s, %.0f ms)",
            name,
            result.outcome,
            result.status_code,
            result.latency_ms,
        )
        return result

    def http_client(self) -> httpx.AsyncClient:
        """The HTTP client of the running event loop: a connection pool belongs to the loop
        that made it (``kefu chat`` runs each turn in a fresh loop; the server has one)."""
        if self._fixed_client is not None:
            return self._fixed_client
        loop = id(asyncio.get_running_loop())
        client = self._clients.get(loop)
        if client is None:
            if len(self._clients) > 8:  # loops that have ended; their pools are dead anyway
                self._clients.clear()
            client = self._clients[loop] = httpx.AsyncClient(follow_redirects=False)
        return client

    async def aclose(self) -> None:
        """Close this event loop's client (or the one given at construction)."""
        if self._fixed_client is not None:
            await self._fixed_client.aclose()
            return
        client = self._clients.pop(id(asyncio.get_running_loop()), None)
        if client is not None:
            await client.aclose()

    async def __aenter__(self) -> ToolRegistry:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _check(self, name: str, arguments: Mapping[str, Any] | str) -> dict[str, Any] | ToolResult:
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except ValueError:
                return ToolResult("invalid_arguments", error="arguments are not valid JSON")
        if not isinstance(arguments, Mapping):
            return ToolResult("invalid_arguments", error="arguments must be a JSON object")
        error = jsonschema.exceptions.best_match(self._validators[name].iter_errors(arguments))
        if error is not None:
            where = ".".join(str(part) for part in error.path)
            message = f"{where}: {error.message}" if where else error.message
            return ToolResult("invalid_arguments", error=message[:200])
        return dict(arguments)

    async def _call(
        self, tool: Tool, arguments: dict[str, Any], context: ToolContext
    ) -> ToolResult:
        try:
            return await tool.call(arguments, context=context)
        except Exception as exc:  # a bug in a tool must not end the conversation
            log.exception("tool %s raised", tool.name)
            return ToolResult("error", error=f"the tool failed ({type(exc).__name__})")


def _env_without_default(config: ToolConfig) -> list[str]:
    texts = [config.url or "", *config.headers.values(), *config.query.values()]
    texts += _strings(config.body)
    names: list[str] = []
    for text in texts:
        template = Template.parse(text)
        names += [
            part.name
            for part in template.parts
            if not isinstance(part, str) and part.env and part.default is None
        ]
    return names


def _strings(body: Any) -> list[str]:
    if isinstance(body, str):
        return [body]
    items = body.values() if isinstance(body, dict) else body if isinstance(body, list) else []
    return [text for item in items for text in _strings(item)]
