"""Unicode clean-up for anything a customer can type.

JSON lets a client send lone UTF-16 surrogates (``"\\ud800"``); they cannot be encoded as
UTF-8, so a database or a JSON encoder downstream would crash on them. Control characters
(other than newline and tab) are invisible, break logs and confuse tokenizers.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

__all__ = ["clean_text", "clean_value", "has_control_chars"]

# Lone surrogates, C0/C1 controls except \t \n, DEL, zero-width and bidi overrides.
_UNWANTED = re.compile(
    "[\ud800-\udfff\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


# Unicode's control characters (category Cc) are exactly these two ranges: one regex search
# instead of a category lookup per character (every chat message checks its user id).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def has_control_chars(text: str) -> bool:
    """Whether ``text`` holds a control character (Unicode category Cc)."""
    return _CONTROL.search(text) is not None


def clean_text(text: str) -> str:
    """NFC-normalised text without surrogates or control characters; \\r\\n becomes \\n."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _UNWANTED.sub("", text)
    return unicodedata.normalize("NFC", text)


def clean_value(value: Any) -> Any:
    """``clean_text`` applied to every string inside JSON-like data (keys included)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_value(v) for v in value]
    return value
