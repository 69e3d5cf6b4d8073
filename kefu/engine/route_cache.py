"""Exact-question cache for routing decisions.

Customers ask the same questions over and over ("订单多久发货?"); the FAQ match and passage
search for a question only change when the knowledge does. This LRU keeps the decision per
cleaned question and language; it is replaced wholesale when the app's knowledge reloads.
(The semantic cache of DESIGN.md — similar questions, with an embedder — builds on it.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kefu.core.types import ChunkHit, FaqHit

__all__ = ["RouteDecision"]


@dataclass(frozen=True, slots=True)
class RouteDecision:
    route: str
    faq_hits: tuple[FaqHit, ...]
    passages: tuple[ChunkHit, ...]
    record: dict[str, Any]  # what the route stage wrote into the trace
