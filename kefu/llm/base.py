"""The one interface every chat model sits behind: ``complete`` and ``stream``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from kefu.core.llm_config import SamplingConfig

__all__ = ["ChatMessage", "ChatModel", "Completion", "StreamChunk", "Usage", "collect"]

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


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


@runtime_checkable
class ChatModel(Protocol):
    """A chat model. Implementations raise :class:`~kefu.core.errors.ProviderError` kinds."""

    name: str

    async def complete(
        self, messages: Sequence[ChatMessage], sampling: SamplingConfig
    ) -> Completion: ...

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
