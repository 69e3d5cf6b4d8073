"""The channel interface and the plain values that cross it (no web framework here: the API
turns an HTTP request into a :class:`ChannelRequest` and a :class:`ChannelResponse` back)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import orjson
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import httpx

    from kefu.channels.kit import ChannelKit

__all__ = [
    "Channel",
    "ChannelKind",
    "ChannelRequest",
    "ChannelResponse",
    "ChannelSettings",
    "InboundMessage",
    "OutboundMessage",
    "Peer",
    "SendFailed",
    "platform_json",
]


@dataclass(frozen=True, slots=True)
class ChannelRequest:
    """A platform's HTTP callback, as received."""

    method: str
    path: str  # below /channels/<app>/<channel>, "" for the callback URL itself
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass(frozen=True, slots=True)
class ChannelResponse:
    """What the platform gets back; answer fast (platforms retry slow callbacks)."""

    status: int = 200
    body: bytes = b""
    media_type: str = "text/plain; charset=utf-8"

    @classmethod
    def of_json(cls, value: Any, status: int = 200) -> ChannelResponse:
        return cls(status, orjson.dumps(value), "application/json")

    @classmethod
    def of_text(cls, text: str, status: int = 200) -> ChannelResponse:
        return cls(status, text.encode())


@dataclass(frozen=True, slots=True)
class Peer:
    """A customer on a platform: ``id`` is stable per customer (it keys their kefu
    conversation); ``address`` is what sending to them takes (ids of chat, account…)."""

    id: str
    address: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A customer's text message; ``message_id`` is the platform's (duplicates dropped)."""

    peer: Peer
    text: str
    message_id: str


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """What kefu says to a customer. ``message_id`` stays the same across retries, so the
    platform (or the integrator) can drop a repeat."""

    text: str
    message_id: str
    kind: Literal["answer", "agent", "notice"] = "answer"
    conversation_id: str = ""
    agent: str | None = None  # the agent's name, for kind "agent"
    handoff_state: str = ""  # an answer's: the conversation's state after it (bot, human…)


class SendFailed(Exception):
    """One attempt to send failed; ``retryable``: a later attempt may succeed."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.retryable = retryable


def platform_json(response: httpx.Response, path: str) -> dict[str, Any]:
    """A platform API's JSON object; a 5xx or a body that is not JSON may pass on a later
    attempt, an answer of another shape will not."""
    if response.status_code >= 500:
        raise SendFailed(f"{path}: HTTP {response.status_code}", retryable=True)
    try:
        data = response.json()
    except ValueError:
        raise SendFailed(f"{path}: HTTP {response.status_code}, not JSON", retryable=True) from None
    if not isinstance(data, dict):
        raise SendFailed(f"{path}: unexpected answer", retryable=False)
    return data


class Channel(Protocol):
    """A place customers write from: its callback in, its API out.

    ``receive`` verifies a callback and answers it at once; the customer's messages it
    carries go to :meth:`ChannelKit.customer_message` (usually in the background). ``send``
    makes one attempt to deliver a message (the kit retries). ``hand_over`` runs after a
    turn handed the customer to a human: a platform with its own human queue transfers
    them there; the others do nothing (the conversation waits in kefu's inbox, and agent
    replies come back through ``send``).
    """

    async def receive(self, request: ChannelRequest) -> ChannelResponse: ...

    async def send(self, peer: Peer, message: OutboundMessage) -> None: ...

    async def hand_over(self, peer: Peer) -> None: ...

    async def aclose(self) -> None: ...


class ChannelSettings(BaseModel):
    """The base of a channel's settings in the app file: unknown keys are errors; fields
    ending in ``_env`` name environment variables holding secrets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(5, ge=1, le=20, description="tries per outgoing message")
    timeout_s: float = Field(10.0, gt=0, le=60, description="per call to the platform")

    def secret_envs(self) -> dict[str, str]:
        """Setting name → environment variable, for every secret this channel needs."""
        return {
            name: value
            for name, value in self.model_dump().items()
            if name.endswith("_env") and isinstance(value, str)
        }


@dataclass(frozen=True, slots=True)
class ChannelKind:
    """What a channel package exports as ``KIND``: its settings and how to build it.

    ``create(settings, secrets, kit)`` gets the validated settings, the secrets read from
    the environment (by setting name, e.g. ``secret_env``), and the kit.
    """

    settings: type[ChannelSettings]
    create: Callable[[Any, dict[str, str], ChannelKit], Channel]
