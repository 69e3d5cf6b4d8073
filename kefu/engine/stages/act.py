"""Stage 6, act: the business systems. A flow whose slots are filled calls its tools
(:mod:`kefu.engine.dialog.actions`); a hand-over gets its reason and business hours; and a
question no flow took that names an order, a phone number, a date… may be answered by the
model calling the app's read-only tools (:mod:`kefu.engine.agent`)."""

from __future__ import annotations

from typing import Any

from kefu.engine.agent import answer_with_tools, model_tools, wants_lookup
from kefu.engine.context import TurnContext
from kefu.engine.dialog.actions import run_flow_action
from kefu.engine.generation import build_turn_prompt, screen
from kefu.engine.handoff_policy import settle_handoff
from kefu.engine.stages.plan import grounding_sources, refuse

__all__ = ["applies", "run"]


def applies(ctx: TurnContext) -> bool:
    step = ctx.flow_step
    return (
        (step is not None and step.kind == "act")
        or ctx.route == "handoff"
        or (wants_lookup(ctx) and bool(model_tools(ctx.app, ctx.language)))
    )


async def run(ctx: TurnContext, record: dict[str, Any]) -> None:
    step = ctx.flow_step
    if step is not None and step.kind == "act":
        await run_flow_action(ctx, record)
    settle_handoff(ctx, ctx.now)
    tools = model_tools(ctx.app, ctx.language) if wants_lookup(ctx) else []
    if not tools:
        return
    if not await screen(ctx):
        refuse(ctx)
        return
    # The prompt a generated answer would use; plan reuses it if no tool is called.
    sources = grounding_sources(ctx)
    ctx.prompt = await build_turn_prompt(ctx, sources)
    if await answer_with_tools(ctx, ctx.prompt, tools, record):
        ctx.sources = sources
