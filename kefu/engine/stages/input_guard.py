"""Stage 1, input guard: clean-up and size, then what the customer may not say.

A sensitive word gets the preset reply, an injection attempt a polite refusal, and no model
sees either. PII is noted (masked) for the trace, prompts and storage. Verdicts are cached
per question (:mod:`kefu.engine.guards`).
"""

from __future__ import annotations

from typing import Any

from kefu.engine.context import TurnContext
from kefu.engine.guards import judge_input
from kefu.safety import guard_input

__all__ = ["run"]


def run(ctx: TurnContext, record: dict[str, Any]) -> None:
    """Raises ``InvalidParam`` for a question that is empty or too long: before any output."""
    guarded = guard_input(ctx.raw_query, max_chars=ctx.app.config.limits.max_query_chars)
    ctx.query = ctx.search_query = guarded.text
    record.update(chars=len(guarded.text), removed_chars=guarded.removed_chars)
    app = ctx.app
    verdict = app.input_verdicts.get(ctx.query)
    if verdict is None:
        verdict = app.input_verdicts.put(
            ctx.query,
            judge_input(
                ctx.query, app.sensitive, block_injection=app.config.safety.block_injection
            ),
        )
    ctx.masked_query = verdict.masked
    record.update(verdict.facts)
    if verdict.route is not None:
        ctx.route = verdict.route
