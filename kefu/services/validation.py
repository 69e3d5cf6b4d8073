"""Request validation the services share: what a caller sends, cleaned or refused.

The API's pydantic models check shapes; these check meaning (text that is only whitespace
or control characters is empty), and every service refuses the same way, with
``InvalidParam`` and one wording.
"""

from __future__ import annotations

from typing import Any

import orjson

from kefu.core.errors import InvalidParam
from kefu.safety import clean_text, clean_value, has_control_chars

__all__ = ["MAX_USER_CHARS", "clean_inputs", "clean_name", "clean_user", "required_text"]

MAX_USER_CHARS = 255


def required_text(value: str | None, what: str, max_chars: int, *, missing: str = "") -> str:
    """``value`` cleaned (Unicode clean-up, stripped); not empty and at most ``max_chars``.
    ``missing``: the message when it is empty (default: "<what> is required")."""
    cleaned = clean_text(value or "").strip()
    if not cleaned:
        raise InvalidParam(missing or f"{what} is required")
    if len(cleaned) > max_chars:
        raise InvalidParam(f"{what} is too long: at most {max_chars} characters")
    return cleaned


def clean_name(value: str | None, what: str, max_chars: int, *, missing: str = "") -> str:
    """An identifier or a name: :func:`required_text`, and control characters (NUL, escape
    sequences, line breaks) are refused, not silently dropped — two different raw ids must
    never become the same one, and a name shows on one line."""
    if value and has_control_chars(value):
        raise InvalidParam(f"{what} must not contain control characters")
    return required_text(value, what, max_chars, missing=missing)


def clean_user(user: str) -> str:
    """The API's ``user``: the app's identifier of its customer."""
    return clean_name(
        user, "user", MAX_USER_CHARS, missing="user is required: an identifier of the end user"
    )


def clean_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """The app inputs, cleaned, if they can be stored as JSON (bounded depth, 64-bit ints)."""
    cleaned: dict[str, Any] = clean_value(inputs)
    try:
        orjson.dumps(cleaned)
    except orjson.JSONEncodeError as exc:
        raise InvalidParam(f"inputs cannot be stored: {exc}") from None
    return cleaned
