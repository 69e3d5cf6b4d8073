"""placeholder"""
from __future__ import annotations

import unicodedata
from collections.abc import Iterable

__all__ = ["leaks_secret"]


def leaks_secret(answer: str, secrets: Iterable[str], *, min_chars: int = 30) -> bool:
    text = _squeeze(answer)
    for secret in secrets:
        needle = _squeeze(secret)
        size = min(min_chars, len(needle))
        if size < 8 or len(text) < size:
            continue
        fragments = {needle[i : i + size] for i in range(len(needle) - size + 1)}
        if any(text[i : i + size] in fragments for i in range(len(text) - size + 1)):
            return True
    return False


def _squeeze(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())
