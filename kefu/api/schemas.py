"""Request bodies of the service API (Dify's shapes) and the OpenAI-compatible API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChatMessageIn",
    "FeedbackIn",
    "OpenAIChatIn",
    "OpenAIMessageIn",
    "RenameIn",
    "StopIn",
    "UserIn",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ChatMessageIn(_Body):
    query: str
    user: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    response_mode: Literal["blocking", "streaming"] = "streaming"
    conversation_id: str | None = None
    auto_generate_name: bool = True
    files: list[Any] = Field(default_factory=list)


class StopIn(_Body):
    user: str


class UserIn(_Body):
    user: str


class RenameIn(_Body):
    user: str
    name: str | None = None
    auto_generate: bool = False


class FeedbackIn(_Body):
    user: str
    rating: Literal["like", "dislike"] | None
    content: str | None = None


class OpenAIMessageIn(_Body):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None


class OpenAIChatIn(_Body):
    model: str
    messages: list[OpenAIMessageIn] = Field(min_length=1)
    stream: bool = False
    user: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    stream_options: dict[str, Any] | None = None
    conversation_id: str | None = Field(
        None, description="kefu extension: continue a stored conversation"
    )
