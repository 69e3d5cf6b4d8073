"""Stage 3, understand: the language, then (past the guard) intent, entities, sentiment and
dialog act, from the app's understanding layer (:mod:`kefu.engine.understanding`)."""

from __future__ import annotations

from typing import Any

from kefu.core.types import Language
from kefu.engine.context import GUARDED, TurnContext
from kefu.knowledge import detect_language

__all__ = ["detect_turn_language", "run"]


def detect_turn_language(ctx: TurnContext) -> Language:
    """A message without letters ("13900005678") is in the app's language."""
    has_letters = any(ch.isalpha() for ch in ctx.query)
    return detect_language(ctx.query) if has_letters else ctx.app.config.language


def run(ctx: TurnContext, record: dict[str, Any]) -> None:
    ctx.language = detect_turn_language(ctx)
    record["language"] = ctx.language
    if ctx.route in GUARDED or ctx.app.understanding is None:
        return
    today = ctx.now.astimezone().date() if ctx.now is not None else None
    ctx.understood = ctx.app.understanding.understand(ctx.query, today)
    record.update(ctx.understood.record(mask=ctx.app.config.safety.mask_pii_in_traces))
