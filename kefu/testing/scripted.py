"""A scripted chat model: returns queued replies, split into the chunks you choose."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from kefu.appfile.llm_config import SamplingConfig
from kefu.core.errors import ProviderError
from kefu.llm.base import ChatMessage, Completion, StreamChunk, ToolCall, Usage, collect

__all__ = ["ScriptedChatModel", "ScriptedReply"]


@dataclass(frozen=True)
class ScriptedReply:
    """One reply: its streamed pieces, or an error to raise (before or after ``fail_after``)."""

    chunks: tuple[str, ...] = ()
    error: str | None = None
    fail_after: int = 0  # pieces sent before the error
    delay_s: float = 0.0  # between pieces
    tool_calls: tuple[ToolCall, ...] = ()  # a function-calling reply (``complete`` only)
    finish_reason: str = "stop"  # "length": as if the reply had run out of max_tokens


@dataclass
class ScriptedChatModel:
    """``ChatModel`` that answers from a queue of :class:`ScriptedReply` and records calls.

    With an empty queue it repeats ``default`` (or fails if there is none).
    """

    replies: list[ScriptedReply] = field(default_factory=list)
    default: ScriptedReply | None = None
    name: str = "scripted"
    calls: list[list[ChatMessage]] = field(default_factory=list)
    samplings: list[SamplingConfig] = field(default_factory=list)  # one per call, in order
    tools_offered: list[list[dict[str, Any]]] = field(default_factory=list)
    closed_early: int = 0

    def say(self, *chunks: str) -> ScriptedChatModel:
        self.replies.append(ScriptedReply(tuple(chunks)))
        return self

    def fail(
        self, message: str = "scripted failure", after: int = 0, *chunks: str
    ) -> ScriptedChatModel:
        self.replies.append(ScriptedReply(tuple(chunks), error=message, fail_after=after))
        return self

    def _next(self) -> ScriptedReply:
        if self.replies:
            return self.replies.pop(0)
        if self.default is not None:
            return self.default
        raise ProviderError(f"{self.name}: no scripted reply left")

    def call(self, name: str, **arguments: Any) -> ScriptedChatModel:
        """Queue a reply that asks for one function call (for ``complete`` with tools)."""
        call = ToolCall(f"call_{len(self.replies)}_{name}", name, json.dumps(arguments))
        self.replies.append(ScriptedReply(tool_calls=(call,)))
        return self

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        sampling: SamplingConfig,
        tools: Sequence[dict[str, Any]] | None = None,
    ) -> Completion:
        self.tools_offered.append(list(tools or []))
        if self.replies and self.replies[0].tool_calls:
            self.calls.append(list(messages))
            self.samplings.append(sampling)
            reply = self.replies.pop(0)
            return Completion("", Usage(), "tool_calls", self.name, reply.tool_calls)
        return await collect(self.stream(messages, sampling), self.name)

    async def stream(
        self, messages: Sequence[ChatMessage], sampling: SamplingConfig
    ) -> AsyncIterator[StreamChunk]:
        self.calls.append(list(messages))
        self.samplings.append(sampling)
        reply = self._next()
        finished = False
        try:
            for index, piece in enumerate(reply.chunks):
                if reply.error is not None and index == reply.fail_after:
                    raise ProviderError(reply.error)
                if reply.delay_s:
                    await asyncio.sleep(reply.delay_s)
                yield StreamChunk(text=piece)
            if reply.error is not None:
                raise ProviderError(reply.error)
            prompt = sum(len(m.content) for m in messages)
            completion = sum(len(p) for p in reply.chunks)
            yield StreamChunk(usage=Usage(prompt, completion), finish_reason=reply.finish_reason)
            finished = True
        finally:
            if not finished and reply.error is None:
                self.closed_early += 1
