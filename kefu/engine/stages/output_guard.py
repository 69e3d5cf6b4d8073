"""Stage 8, output guard: what the customer must never see, on the way out.

An answer decided here (FAQ, passage, a flow's or a tool call's answer, and the extractive
answer kept in case a model fails) is checked for the app's sensitive words now, and
replaced by the preset reply if it has one; a generated answer is checked while it streams
(:class:`~kefu.safety.stream_guard.StreamGuard` in :func:`kefu.engine.generation.stream_answer`),
including the model reciting its instructions. Verdicts are cached per answer text.
"""

from __future__ import annotations

from typing import Any

from kefu.engine.context import GUARDED, TurnContext
from kefu.engine.guards import judge_answer

__all__ = ["applies", "run"]


def applies(ctx: TurnContext) -> bool:
    return ctx.route not in GUARDED and bool(ctx.answer)


def run(ctx: TurnContext, record: dict[str, Any]) -> None:
    app = ctx.app
    leaked = app.answer_verdicts.get(ctx.answer)
    if leaked is None:
        leaked = app.answer_verdicts.put(ctx.answer, judge_answer(ctx.answer, app.sensitive))
    record["checked"] = "stream" if ctx.prompt is not None else "answer"
    if not leaked:
        return
    # The knowledge should never say it, but the customer must never see it.
    record["output_sensitive_words"] = leaked
    ctx.answer = app.config.replies.blocked.get(ctx.language)
    if ctx.prompt is None:
        ctx.sources = []
