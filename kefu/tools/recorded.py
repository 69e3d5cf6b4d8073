"""Tools answered from a recording: what ``kefu replay`` calls instead of the business systems.

A replay runs old customer turns again against a changed app. Its tool calls must neither
reach the real systems (a replayed cancel would cancel twice) nor depend on what those
systems hold today, so each call is looked up, by tool name and arguments, among the calls
the traces recorded (:func:`kefu.tools.base.trace_entry` keeps the masked arguments and the
result): the replayed conversation's own calls first, then any conversation's. Arguments are
compared masked, as the trace keeps them. A call nobody recorded answers ``unavailable``
with the error :data:`NOT_RECORDED` (so the flow gives its failure reply) and is counted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast, get_args

from kefu.core.localized import LocalizedText
from kefu.tools.base import Outcome, ToolContext, ToolResult, _masked
from kefu.tools.registry import ToolRegistry

__all__ = ["NOT_RECORDED", "RecordedCall", "RecordedTool", "ToolTape", "replaying_registry"]

NOT_RECORDED = "not recorded: no recorded call of this tool had these arguments"
_OUTCOMES = frozenset(get_args(Outcome))


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One tool call as a trace recorded it (``tool_calls`` entries)."""

    tool: str
    arguments: dict[str, Any]
    outcome: Outcome
    status_code: int | None = None
    error: str | None = None
    result: dict[str, Any] | None = None  # {"data", "raw"?}; None: not kept (failed, large)

    @classmethod
    def from_trace(cls, entry: Mapping[str, Any]) -> RecordedCall | None:
        """The call of a trace entry; None for an entry that is not one."""
        tool, arguments, outcome = entry.get("tool"), entry.get("arguments"), entry.get("outcome")
        if not isinstance(tool, str) or not isinstance(arguments, dict):
            return None
        if not isinstance(outcome, str) or outcome not in _OUTCOMES:
            return None
        result = entry.get("result")
        status = entry.get("status_code")
        error = entry.get("error")
        return cls(
            tool,
            arguments,
            cast(Outcome, outcome),
            status if isinstance(status, int) else None,
            error if isinstance(error, str) else None,
            result if isinstance(result, dict) else None,
        )

    def replayed(self) -> ToolResult | None:
        """The result this call gave; None when it succeeded but its data was not kept."""
        if self.outcome != "ok":
            return ToolResult(self.outcome, status_code=self.status_code, error=self.error)
        if self.result is None:
            return None
        data = self.result.get("data")
        return ToolResult(
            "ok",
            data=data if isinstance(data, dict) else {},
            status_code=self.status_code,
            raw=self.result.get("raw"),
        )


@dataclass
class ToolTape:
    """The recorded calls a replay answers from, and the calls it could not answer."""

    mask: Callable[[str], str]
    everyone: dict[tuple[str, str], list[RecordedCall]] = field(default_factory=dict)
    conversation: dict[tuple[str, str], list[RecordedCall]] = field(default_factory=dict)
    played: dict[tuple[str, str], int] = field(default_factory=dict)
    misses: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def key(self, tool: str, arguments: Mapping[str, Any]) -> tuple[str, str]:
        masked = _masked(dict(arguments), self.mask)
        return tool, json.dumps(masked, ensure_ascii=False, sort_keys=True, default=str)

    def add(self, calls: Iterable[RecordedCall]) -> None:
        """Calls any replayed conversation may be answered from."""
        for call in calls:
            self.everyone.setdefault(self.key(call.tool, call.arguments), []).append(call)

    def start_conversation(self, calls: Iterable[RecordedCall]) -> None:
        """The calls of the conversation replayed next, answered first and in their order."""
        self.conversation, self.played = {}, {}
        for call in calls:
            self.conversation.setdefault(self.key(call.tool, call.arguments), []).append(call)

    def play(self, tool: str, arguments: Mapping[str, Any]) -> ToolResult:
        """The recorded answer to this call (a repeated call gets the next recording, then
        the last again), else ``unavailable`` / :data:`NOT_RECORDED`."""
        key = self.key(tool, arguments)
        for calls in (self.conversation.get(key), self.everyone.get(key)):
            if not calls:
                continue
            turn = self.played.get(key, 0)
            self.played[key] = turn + 1
            result = calls[min(turn, len(calls) - 1)].replayed()
            if result is not None:
                return result
        self.misses.append((tool, _masked(dict(arguments), self.mask)))
        return ToolResult("unavailable", error=NOT_RECORDED)


@dataclass
class RecordedTool:
    """A tool with a real one's name, description and schema, answered from a tape."""

    name: str
    description: LocalizedText
    parameters: Mapping[str, Any]
    confirm: bool
    tape: ToolTape

    async def call(self, arguments: Mapping[str, Any], *, context: ToolContext) -> ToolResult:
        return self.tape.play(self.name, arguments)


def replaying_registry(real: ToolRegistry, tape: ToolTape) -> ToolRegistry:
    """A registry with the same tools and configs (degraded replies, hand-over on failure,
    confirmations) as ``real``, every call answered from ``tape``."""
    registry = ToolRegistry()
    for name in real.names():
        tool = real.get(name)
        assert tool is not None
        registry.register(
            RecordedTool(name, tool.description, tool.parameters, tool.confirm, tape),
            config=real.config(name),
        )
    return registry
