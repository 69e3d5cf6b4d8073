"""Request bodies of the service API (Dify's shapes) and the OpenAI-compatible API.

Clients send ``null`` for what they leave unset (the Dify SDK sends ``"files": null`` with
every message, OpenAI clients ``"temperature": null``): in the chat, rename and OpenAI
bodies a ``null`` optional field means the same as leaving it out.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Body",
    "ChatMessageIn",
    "FeedbackIn",
    "OpenAIChatIn",
    "OpenAIMessageIn",
    "RenameIn",
    "StopIn",
    "StreamOptionsIn",
    "StrictBody",
    "UserIn",
]


class Body(BaseModel):
    """A body of a Dify- or OpenAI-shaped API: fields kefu does not know are ignored, as
    those APIs do (their clients send fields of newer versions)."""

    model_config = ConfigDict(extra="ignore")


class StrictBody(BaseModel):
    """A body of kefu's own APIs (admin, agents): an unknown field is a 400, so a typo never
    passes silently."""

    model_config = ConfigDict(extra="forbid")


class _NullMeansUnset(Body):
    """A ``null`` for a field with a default is that default (what Dify and OpenAI do)."""

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        optional = _optional_fields(cls)
        return {k: v for k, v in data.items() if v is not None or k not in optional}


@functools.cache  # one entry per body class: the fields are fixed once the class is made
def _optional_fields(cls: type[BaseModel]) -> frozenset[str]:
    return frozenset(name for name, info in cls.model_fields.items() if not info.is_required())


class ChatMessageIn(_NullMeansUnset):
    query: str
    user: str | None = None  # implied by a page session or a signed identity
    inputs: dict[str, Any] = Field(default_factory=dict)
    response_mode: Literal["blocking", "streaming"] = "streaming"
    conversation_id: str | None = None
    auto_generate_name: bool = True
    files: list[Any] = Field(default_factory=list)


class StopIn(Body):
    user: str | None = None  # implied by a page session or a signed identity


class UserIn(Body):
    user: str | None = None  # implied by a page session or a signed identity


class RenameIn(_NullMeansUnset):
    user: str | None = None  # implied by a page session or a signed identity
    name: str | None = None
    auto_generate: bool = False


class FeedbackIn(Body):
    user: str | None = None  # implied by a page session or a signed identity
    rating: Literal["like", "dislike"] | None
    content: str | None = None


class OpenAIMessageIn(Body):
    role: Literal["system", "user", "assistant", "tool", "developer", "function"]
    content: str | list[dict[str, Any]] | None = None


class StreamOptionsIn(_NullMeansUnset):
    include_usage: bool = False


class OpenAIChatIn(_NullMeansUnset):
    """OpenAI's chat completion request; kefu runs its own tools, so ``tools`` and the
    other fields not named here are ignored."""

    model: str
    messages: list[OpenAIMessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptionsIn = Field(default_factory=StreamOptionsIn)
    user: str | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1, description="takes max_tokens' place")
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    n: Literal[1] = Field(1, description="kefu writes one answer per request")
    conversation_id: str | None = Field(
        None,
        description="kefu extension: continue a stored conversation (then only the last "
        "user message is read; kefu keeps the history)",
    )
