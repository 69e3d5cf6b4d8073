"""The turn: one customer message, from the words typed to the records stored.

    input_guard → handoff_gate → understand → rewrite → route → act → plan
                → output_guard → (deliver: extractive, or the model's stream) → persist

:data:`STAGES` lists the deciding stages in order; :func:`run_turn` runs them, each timed
into the turn's trace (a stage whose ``applies`` says no is skipped and absent from it),
into the ``kefu_turn_stage_duration_seconds`` metric and, with tracing on, a span.
Delivering and persisting are the chat service's (:mod:`kefu.services.chat`): they are
async, must finish even when the client goes away mid-stream, and the output guard keeps
watching a generated answer while it streams (:func:`kefu.engine.generation.stream_answer`).
Persist's records come from :mod:`kefu.engine.stages.persist`.

A ``RequestError`` (an empty or too long question) leaves ``input_guard`` before any
output, so it always reaches the client as a proper HTTP status and envelope.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kefu.engine.context import TurnContext
from kefu.engine.stages import (
    act,
    handoff_gate,
    input_guard,
    output_guard,
    plan,
    rewrite,
    route,
    understand,
)
from kefu.observability import metrics
from kefu.observability.tracing import stage_span
from kefu.safety.pii import mask_pii, mask_value

__all__ = ["DECIDE_ONLY", "STAGES", "Stage", "run_turn"]

StageRun = Callable[[TurnContext, dict[str, Any]], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    run: StageRun
    applies: Callable[[TurnContext], bool] | None = None  # None: always


STAGES: tuple[Stage, ...] = (
    Stage("input_guard", input_guard.run),
    Stage("handoff_gate", handoff_gate.run, handoff_gate.applies),
    Stage("understand", understand.run),
    Stage("rewrite", rewrite.run, rewrite.applies),
    Stage("route", route.run),
    Stage("act", act.run, act.applies),
    Stage("plan", plan.run),
    Stage("output_guard", output_guard.run, output_guard.applies),
)
DECIDE_ONLY = ("input_guard", "understand", "route")  # what a replayed turn re-decides


async def run_turn(ctx: TurnContext, *, only: tuple[str, ...] | None = None) -> TurnContext:
    """Run the stages in order (``only``: just those named, as a replay does)."""
    for stage in STAGES:
        if only is not None and stage.name not in only:
            continue
        if stage.applies is not None and not stage.applies(ctx):
            continue
        with ctx.trace.stage(stage.name) as record, stage_span(ctx.trace.span, stage.name):
            done = stage.run(ctx, record)
            if done is not None:  # an async stage's coroutine
                await done
        if only is None:  # a replay re-decides old turns: not the service's latency
            metrics.stage_timed(stage.name, record["duration_ms"] / 1000)
        if ctx.done:
            break
    _summarise(ctx)
    return ctx


def _summarise(ctx: TurnContext) -> None:
    """The trace's headline: route, language, the question (masked if traces are)."""
    masking = ctx.app.config.safety.mask_pii_in_traces
    ctx.trace.facts.update(
        route=ctx.route,
        language=ctx.language,
        query=ctx.masked_query if masking else ctx.query,
        app=ctx.app.name,
    )
    if ctx.search_query != ctx.query:
        ctx.trace.facts["search_query"] = (
            mask_pii(ctx.search_query) if masking else ctx.search_query
        )
    slots = _flow_slots(ctx)
    if slots:  # what `kefu test` asserts on: the slots of the flow this turn worked on
        ctx.trace.facts["slots"] = mask_value(slots) if masking else slots


def _flow_slots(ctx: TurnContext) -> dict[str, Any]:
    """The slots the flow acted with this turn, else those of the flow in progress."""
    step = ctx.flow_step
    if step is not None and step.kind == "act":
        return dict(step.arguments)
    active = ctx.dialog.active
    if step is not None and active is not None and active.flow == step.flow:
        return dict(active.slots)
    return {}
