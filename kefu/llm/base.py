"""The one interface every chat model sits behind: ``complete`` and ``stream``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from kefu.appfile.llm_config import SamplingConfig

__all__ = [
    "ChatMessage",
    "ChatModel",
    "Completion",
    "StreamChunk",
    "ToolCall",
    "Usage",
    "collect",
]

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call a model asks for (OpenAI ``tool_calls``); ``arguments`` is JSON text."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()  # an assistant message that called tools
    tool_call_id: str | None = None  # a tool message: the call it answers


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """A piece of a streamed answer; the last chunk of a stream may carry only ``usage``."""

    text: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    model: str = ""
    tool_calls: tuple[ToolCall, ...] = ()


@runtime_checkable
class ChatModel(Protocol):
    """A chat model. Implementations raise :class:`~kefu.core.errors.ProviderError` kinds."""

    name: str

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        sampling: SamplingConfig,
        tools: Sequence[dict[str, Any]] | None = None,
    ) -> Completion:
        """The whole answer. ``tools`` (OpenAI format) lets the model ask for function calls
        (``Completion.tool_calls``); a model that cannot call functions ignores them."""
        ...

    def stream(
        self, messages: Sequence[ChatMessage], sampling: SamplingConfig
    ) -> AsyncIterator[StreamChunk]:
        """Yield chunks as the model produces them; closing the iterator cancels the request."""
        ...


async def collect(chunks: AsyncIterator[StreamChunk], model: str = "") -> Completion:
    """A whole completion from a stream (for models that only stream)."""
    text: list[str] = []
    usage, finish = Usage(), None
    async for chunk in chunks:
        text.append(chunk.text)
        usage = chunk.usage or usage
        finish = chunk.finish_reason or finish
    return Completion("".join(text), usage, finish, model)
