"""Exact-question cache for routing decisions.

Customers ask the same questions over and over ("订单多久发货?"); the FAQ match and passage
search for a question only change when the knowledge does. This LRU keeps the decision per
cleaned question and language; it is replaced wholesale when the app's knowledge reloads.
(The semantic cache of DESIGN.md — similar questions, with an embedder — builds on it.)
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from kefu.core.hanzi import fold_chinese
from kefu.core.types import ChunkHit, FaqHit

__all__ = ["RouteDecision", "fold_question"]

# Everything but letters and digits: ``[^\W_]`` is exactly ``str.isalnum`` (checked over every
# code point), and one substitution is several times faster than testing each character.
_NOT_ALNUM = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class RouteDecision:
    route: str
    faq_hits: tuple[FaqHit, ...]
    passages: tuple[ChunkHit, ...]
    record: dict[str, Any]  # what the route stage wrote into the trace


def fold_question(text: str) -> str:
    """A question as compared word for word: width, case, traditional characters and common
    typos folded (``fold_chinese``), spaces and punctuation dropped."""
    return _NOT_ALNUM.sub("", fold_chinese(unicodedata.normalize("NFKC", text).lower()))
