"""Per-model quirks: request extras and output clean-up.

Qwen3 thinks in ``<think>…</think>`` before answering unless told not to; vLLM and SGLang
take the switch as ``chat_template_kwargs: {enable_thinking: false}``. Whatever a model
thinks never reaches the customer, even when a tag is split across streamed chunks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ModelProfile", "ThinkStripper", "profile_for", "strip_think"]

_OPEN, _CLOSE = "<think>", "</think>"


@dataclass(frozen=True, slots=True)
class ModelProfile:
    name: str
    thinking_switch: bool = False  # accepts chat_template_kwargs.enable_thinking

    def request_extras(self, thinking: bool) -> dict[str, Any]:
        """Extra body fields for the OpenAI-compatible request."""
        if self.thinking_switch:
            return {"chat_template_kwargs": {"enable_thinking": thinking}}
        return {}


DEFAULT = ModelProfile("default")
QWEN3 = ModelProfile("qwen3", thinking_switch=True)


def profile_for(model: str, configured: str = "auto") -> ModelProfile:
    """The profile named in config, or the one the model name implies."""
    if configured == "qwen3" or (configured == "auto" and "qwen3" in model.lower()):
        return QWEN3
    return DEFAULT


class ThinkStripper:
    """Removes ``<think>…</think>`` from a stream of text pieces.

    Text that might be the start of a tag is held back until the next piece decides it, so
    a tag split as ``"<thi"`` + ``"nk>"`` is still caught. An unclosed block at the end is
    dropped (the model ran out of tokens while thinking).
    """

    def __init__(self) -> None:
        self._pending = ""
        self._thinking = False

    def feed(self, piece: str) -> str:
        """The part of the text so far that is safe to show."""
        self._pending += piece
        shown: list[str] = []
        while self._pending:
            tag = _CLOSE if self._thinking else _OPEN
            index = self._pending.find(tag)
            if index >= 0:
                if not self._thinking:
                    shown.append(self._pending[:index])
                self._pending = self._pending[index + len(tag) :]
                self._thinking = not self._thinking
                continue
            keep = _partial_suffix(self._pending, tag)
            if not self._thinking:
                shown.append(self._pending[: len(self._pending) - keep])
            self._pending = self._pending[len(self._pending) - keep :]
            break
        return "".join(shown)

    def finish(self) -> str:
        """What is left when the stream ends (a held-back partial tag is plain text)."""
        rest, self._pending = self._pending, ""
        return "" if self._thinking else rest


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for length in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:length]):
            return length
    return 0


def strip_think(text: str) -> str:
    stripper = ThinkStripper()
    return (stripper.feed(text) + stripper.finish()).lstrip("\n")
