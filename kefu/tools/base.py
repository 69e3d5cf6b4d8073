"""The one interface every tool sits behind (``Tool.call``) and what a call gives back."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from kefu.core.localized import LocalizedText
from kefu.core.types import Language

__all__ = [
    "FAILURES",
    "MAX_RECORDED_RESULT_CHARS",
    "Outcome",
    "Tool",
    "ToolContext",
    "ToolResult",
    "recorded_result",
    "trace_entry",
]

Outcome = Literal["ok", "invalid_arguments", "not_found", "error", "timeout", "unavailable"]
FAILURES: frozenset[Outcome] = frozenset({"error", "timeout", "unavailable"})
"""Outcomes that mean the business system failed: these carry the degraded reply and handoff.
``not_found`` and ``invalid_arguments`` are answers the bot can act on, not failures."""


@dataclass(frozen=True, slots=True)
class ToolContext:
    """Who a call is for; tools may use it (language of messages, per-user lookups)."""

    language: Language = "zh"
    app: str = ""
    conversation_id: str | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The outcome of one call. Tools return a non-ok result instead of raising.

    ``data`` holds the mapped fields; ``raw`` the response JSON when small enough (64 KB) for
    an LLM. ``error`` is short and safe to show operators: it never holds a secret.
    """

    outcome: Outcome
    data: dict[str, Any] = field(default_factory=dict)
    status_code: int | None = None
    latency_ms: float = 0.0
    size_bytes: int = 0
    error: str | None = None
    raw: Any = None
    degraded_reply: LocalizedText | None = None
    handoff: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def model_content(self) -> str:
        """The JSON an LLM sees as the tool message for this call."""
        content: dict[str, Any] = {"outcome": self.outcome}
        if self.ok:
            content["data"] = self.data if self.data or self.raw is None else self.raw
        else:
            content["error"] = self.error
        return json.dumps(content, ensure_ascii=False, default=str)


@runtime_checkable
class Tool(Protocol):
    """Something the bot can call. ``call`` gets arguments already validated against
    ``parameters`` (the registry does that) and never raises for a failure of the system
    it calls."""

    name: str
    description: LocalizedText
    parameters: Mapping[str, Any]
    confirm: bool

    async def call(self, arguments: Mapping[str, Any], *, context: ToolContext) -> ToolResult: ...


def trace_entry(
    name: str, arguments: Mapping[str, Any], result: ToolResult, mask: Callable[[str], str]
) -> dict[str, Any]:
    """What a conversation trace keeps of a call: masked arguments, the outcome and the
    result's data (``result``, masked too), so that ``kefu replay`` can answer the call again
    from the record (:mod:`kefu.tools.recorded`).

    ``mask`` (the engine passes the PII mask) runs over every string argument, every string
    of the result and the error. Headers, URLs and environment values never appear here.
    """
    entry: dict[str, Any] = {
        "tool": name,
        "arguments": _masked(dict(arguments), mask),
        "outcome": result.outcome,
        "status_code": result.status_code,
        "latency_ms": round(result.latency_ms, 1),
        "size_bytes": result.size_bytes,
        "error": mask(result.error) if result.error else None,
    }
    recorded = recorded_result(result, mask)
    if recorded is not None:
        entry["result"] = recorded
    return entry


MAX_RECORDED_RESULT_CHARS = 16_000
"""A result larger than this (as JSON) is not kept in the trace: a replay answers that call
'not recorded' rather than every trace carrying a large response."""


def recorded_result(result: ToolResult, mask: Callable[[str], str]) -> dict[str, Any] | None:
    """The part of a successful result a replay needs: the mapped ``data``, and the ``raw``
    response when there is no data (what a model sees, :meth:`ToolResult.model_content`)."""
    if not result.ok:
        return None
    kept: dict[str, Any] = {"data": _masked(result.data, mask)}
    if not result.data and result.raw is not None:
        kept["raw"] = _masked(result.raw, mask)
    if len(json.dumps(kept, ensure_ascii=False, default=str)) > MAX_RECORDED_RESULT_CHARS:
        return None
    return kept


def _masked(value: Any, mask: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {key: _masked(item, mask) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item, mask) for item in value]
    return value
