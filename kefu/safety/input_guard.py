"""The first stage of every turn: the customer's text made safe to process."""

from __future__ import annotations

from dataclasses import dataclass

from kefu.core.errors import InvalidParam
from kefu.safety.text import clean_text

__all__ = ["GuardedInput", "guard_input"]


@dataclass(frozen=True, slots=True)
class GuardedInput:
    text: str
    removed_chars: int


def guard_input(query: str, *, max_chars: int) -> GuardedInput:
    """Clean the query and enforce the app's size limit.

    Raises :class:`InvalidParam` for an empty or over-long query, so the caller answers with
    the error envelope before anything is stored.
    """
    if len(query) > max_chars:
        raise InvalidParam(f"query is too long: {len(query)} characters, at most {max_chars}")
    cleaned = clean_text(query).strip()
    if not cleaned:
        raise InvalidParam("query is required and must contain visible text")
    return GuardedInput(text=cleaned, removed_chars=len(query) - len(cleaned))
