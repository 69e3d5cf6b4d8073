"""What a conversation remembers between turns: flows in progress, their slots, streaks.

Stored as JSON on the conversation. Reading is forgiving: state written by an older
version, or by a flow that no longer exists, is dropped rather than failing the turn.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

MAX_CHOICES = 3  # options of a clarifying question

__all__ = ["DialogState", "FlowFrame"]

MAX_SUSPENDED = 3  # flows put aside for another topic, most recent last
MAX_TOOL_MEMORY = 30  # agent mode: earlier tool calls the model still sees, most recent last


@dataclass(slots=True)
class FlowFrame:
    """One flow in progress."""

    flow: str
    slots: dict[str, Any] = field(default_factory=dict)
    asking: str | None = None  # the slot last asked for
    asks: int = 0  # times it was asked without an answer
    confirming: bool = False  # waiting for yes/no before a state-changing action

    def to_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "slots": self.slots,
            "asking": self.asking,
            "asks": self.asks,
            "confirming": self.confirming,
        }

    @classmethod
    def from_dict(cls, data: Any) -> FlowFrame | None:
        if not isinstance(data, dict) or not isinstance(data.get("flow"), str):
            return None
        slots = data.get("slots")
        asking = data.get("asking")
        asks = data.get("asks")
        return cls(
            flow=data["flow"],
            slots=dict(slots) if isinstance(slots, dict) else {},
            asking=asking if isinstance(asking, str) else None,
            asks=asks if isinstance(asks, int) and asks >= 0 else 0,
            confirming=data.get("confirming") is True,
        )


@dataclass(slots=True)
class DialogState:
    """The conversation's memory beyond its messages."""

    active: FlowFrame | None = None
    suspended: list[FlowFrame] = field(default_factory=list)
    language: str | None = None  # of the last message with words in it
    negative_streak: int = 0  # negative messages in a row
    unanswered_streak: int = 0  # fallback or low-confidence answers in a row
    last_intent: str | None = None
    profile: dict[str, Any] = field(default_factory=dict)  # remembered slots (who is asking)
    # The FAQ entries the bot asked the customer to choose between (a clarifying question).
    choices: list[str] = field(default_factory=list)
    # agent mode: the model's earlier tool calls, {"tool", "arguments", "result"} (strings)
    tool_memory: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "tool_memory": self.tool_memory,
            "active": self.active.to_dict() if self.active else None,
            "suspended": [frame.to_dict() for frame in self.suspended],
            "language": self.language,
            "negative_streak": self.negative_streak,
            "unanswered_streak": self.unanswered_streak,
            "last_intent": self.last_intent,
            "choices": self.choices,
        }

    @classmethod
    def from_dict(cls, data: Any, known_flows: AbstractSet[str] | None = None) -> DialogState:
        if not isinstance(data, dict):
            return cls()

        def keep(frame: FlowFrame | None) -> FlowFrame | None:
            if frame is None or (known_flows is not None and frame.flow not in known_flows):
                return None
            return frame

        suspended_data = data.get("suspended")
        suspended = [
            frame
            for frame in (
                keep(FlowFrame.from_dict(item))
                for item in (suspended_data if isinstance(suspended_data, list) else [])
            )
            if frame is not None
        ]
        language = data.get("language")
        intent = data.get("last_intent")
        profile = data.get("profile")
        choices = data.get("choices")
        memory = data.get("tool_memory")
        return cls(
            tool_memory=[
                {key: str(entry.get(key, "")) for key in ("tool", "arguments", "result")}
                for entry in (memory if isinstance(memory, list) else [])
                if isinstance(entry, dict)
            ][-MAX_TOOL_MEMORY:],
            profile=dict(profile) if isinstance(profile, dict) else {},
            active=keep(FlowFrame.from_dict(data.get("active"))),
            suspended=suspended[-MAX_SUSPENDED:],
            language=language if language in ("zh", "en") else None,
            negative_streak=_count(data.get("negative_streak")),
            unanswered_streak=_count(data.get("unanswered_streak")),
            last_intent=intent if isinstance(intent, str) else None,
            choices=[c for c in choices if isinstance(c, str)][:MAX_CHOICES]
            if isinstance(choices, list)
            else [],
        )

    def suspend_active(self) -> None:
        """Put the flow in progress aside (another topic came up); it resumes later."""
        if self.active is not None:
            self.suspended = [*self.suspended, self.active][-MAX_SUSPENDED:]
            self.active = None

    def resume(self) -> FlowFrame | None:
        """Bring back the most recently suspended flow, if any."""
        if self.active is None and self.suspended:
            self.active = self.suspended.pop()
        return self.active


def _count(value: Any) -> int:
    return value if isinstance(value, int) and 0 <= value < 1_000_000 else 0
