"""Stage 4, rewrite: with a model and earlier turns, a follow-up ("那运费呢?") becomes a
standalone question for retrieval. A failed rewrite keeps the question as typed."""

from __future__ import annotations

from typing import Any

from kefu.core.errors import ProviderError
from kefu.engine.context import GUARDED, TurnContext
from kefu.engine.generation import REWRITE_SAMPLING, masked_turn, prompt_masker
from kefu.engine.prompt import rewrite_prompt
from kefu.llm.profiles import strip_think

__all__ = ["applies", "run"]


def applies(ctx: TurnContext) -> bool:
    app = ctx.app
    return (
        app.model is not None
        and bool(ctx.history)
        and app.config.llm.rewrite_query
        and ctx.route not in GUARDED  # no model sees what the guard stopped
    )


async def run(ctx: TurnContext, record: dict[str, Any]) -> None:
    model = ctx.app.model
    assert model is not None
    mask = prompt_masker(ctx.app)
    try:
        completion = await model.complete(
            rewrite_prompt([masked_turn(t, mask) for t in ctx.history], mask(ctx.query)),
            REWRITE_SAMPLING,
        )
    except ProviderError as exc:
        record["error"] = exc.message
        return
    rewritten = strip_think(completion.text).strip().splitlines()
    if rewritten and 0 < len(rewritten[0]) <= 4 * len(ctx.query) + 200:
        ctx.search_query = rewritten[0].strip()
    record.update(search_query=ctx.search_query, tokens=completion.usage.total_tokens)
