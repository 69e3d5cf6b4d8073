"""Answers written by a model: rewrite follow-ups, build the grounded prompt, stream it.

Everything here degrades instead of failing: a failed rewrite keeps the question as typed,
a failed summary drops the old turns, and a failed generation delivers the extractive
answer (replacing any partial text with Dify's ``message_replace``).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from kefu.appfile.llm_config import SamplingConfig
from kefu.core.errors import ProviderError
from kefu.core.records import MessageRecord
from kefu.core.types import Source
from kefu.engine.app import AppRuntime
from kefu.engine.context import TurnContext
from kefu.engine.prompt import (
    POLICY,
    Budget,
    build_prompt,
    cited_sources,
    estimate_tokens,
    guard_prompt,
    summary_prompt,
)
from kefu.llm.base import ChatMessage, ChatModel, Usage
from kefu.llm.profiles import ThinkStripper, strip_think
from kefu.observability import metrics
from kefu.observability.tracing import end_span, start_child
from kefu.safety.leaks import LeakGuard
from kefu.safety.pii import mask_pii
from kefu.safety.stream_guard import StreamGuard

__all__ = [
    "AnswerDelta",
    "AnswerReplace",
    "AnswerState",
    "SamplingOverride",
    "build_turn_prompt",
    "masked_turn",
    "prompt_masker",
    "screen",
    "split_for_streaming",
    "stream_answer",
    "with_image_note",
]

log = logging.getLogger(__name__)

REWRITE_SAMPLING = SamplingConfig(temperature=0.0, max_tokens=96)
SUMMARY_SAMPLING = SamplingConfig(temperature=0.0, max_tokens=256)
GUARD_SAMPLING = SamplingConfig(temperature=0.0, max_tokens=4)
_PIECE = re.compile(r".+?(?:[，。！？；：,.!?;:\n]+|$)", re.S)


@dataclass(frozen=True, slots=True)
class AnswerDelta:
    text: str


@dataclass(frozen=True, slots=True)
class AnswerReplace:
    """Everything shown so far is replaced by ``text`` (the model failed mid-answer)."""

    text: str


@dataclass(frozen=True, slots=True)
class SamplingOverride:
    """A caller's sampling for one turn (OpenAI ``temperature``, ``max_tokens``…); what is
    unset keeps the app's. The app's ``max_tokens`` stays the ceiling: it is the operator's
    cost limit and the room the prompt budget leaves for the answer."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] | None = None

    def apply(self, base: SamplingConfig) -> SamplingConfig:
        update: dict[str, Any] = {}
        if self.temperature is not None:
            update["temperature"] = min(max(self.temperature, 0.0), 2.0)
        if self.top_p is not None and self.top_p > 0:
            update["top_p"] = min(self.top_p, 1.0)
        if self.max_tokens is not None:
            update["max_tokens"] = max(1, min(self.max_tokens, base.max_tokens))
        if self.stop is not None:
            update["stop"] = list(self.stop)
        return base.model_copy(update=update) if update else base


@dataclass(slots=True)
class AnswerState:
    """What has been delivered of one answer, and what it cost."""

    parts: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None  # the model's ("stop", "length"); None if none wrote it

    @property
    def text(self) -> str:
        return "".join(self.parts)


def split_for_streaming(text: str, max_piece: int = 24) -> list[str]:
    """Cut an extractive answer into clause-sized pieces for the ``message`` events."""
    pieces: list[str] = []
    for match in _PIECE.finditer(text):
        clause = match.group(0)
        pieces.extend(clause[i : i + max_piece] for i in range(0, len(clause), max_piece))
    return [p for p in pieces if p] or [text]


def prompt_masker(app: AppRuntime) -> Callable[[str], str]:
    """PII never reaches a model unless the app allows it (``safety.mask_pii_in_prompts``)."""
    return mask_pii if app.config.safety.mask_pii_in_prompts else str


def masked_turn(turn: MessageRecord, mask: Callable[[str], str]) -> MessageRecord:
    return replace(turn, query=mask(turn.query), answer=mask(turn.answer))


async def screen(ctx: TurnContext) -> bool:
    """The optional model guard (``safety.llm_guard``), asked at most once a turn, before any
    model answers: False means refuse politely.

    A model that cannot answer does not block the customer (the heuristics already ran).
    """
    app = ctx.app
    model = app.model
    if model is None or not app.config.safety.llm_guard:
        return True
    if ctx.screened is not None:
        return ctx.screened
    with ctx.trace.stage("llm_guard") as record:
        mask = prompt_masker(app)
        try:
            completion = await model.complete(
                guard_prompt(mask(ctx.query), app.config.description), GUARD_SAMPLING
            )
        except ProviderError as exc:
            record["error"] = exc.message
            ctx.screened = True
            return True
        verdict = strip_think(completion.text).strip().upper()
        record["verdict"] = verdict[:20]
        ctx.screened = not verdict.startswith("UNSAFE")
        return ctx.screened


async def build_turn_prompt(ctx: TurnContext, sources: Sequence[Source]) -> list[ChatMessage]:
    """The grounded prompt over ``sources``, with a summary of turns that no longer fit."""
    app = ctx.app
    config = app.config
    with ctx.trace.stage("prompt") as record:
        max_tokens = (ctx.sampling or config.llm.sampling).max_tokens
        budget = Budget(config.llm.context_window, max_tokens)
        mask = prompt_masker(app)
        history = [masked_turn(turn, mask) for turn in ctx.history]
        arguments: dict[str, Any] = {
            "persona": config.persona,
            "language": ctx.language,
            "sources": sources,
            "history": history,
            "question": with_image_note(mask(ctx.query), ctx.images, ctx.language),
            "budget": budget,
            "window_turns": config.limits.history_turns,
            "grounded": bool(sources) or not config.llm.agent,
        }
        plan = build_prompt(**arguments)
        if plan.history_dropped and config.llm.summarize_history:
            dropped = list(history)[: plan.history_dropped]
            summary = await _summary(ctx, dropped)
            if summary:
                plan = build_prompt(**arguments, summary=summary)
                record["summarised_turns"] = len(dropped)
        record.update(
            history_turns=plan.history_used,
            history_dropped=plan.history_dropped,
            prompt_tokens_estimate=plan.prompt_tokens_estimate,
            sources=len(sources),
        )
        # The customer's words in the prompt are masked already when prompts are; mask
        # again for the trace only when the app sends models raw text but masks traces.
        safety = config.safety
        remask = safety.mask_pii_in_traces and not safety.mask_pii_in_prompts
        shown = mask_pii if remask else str
        ctx.trace.facts["prompt"] = [
            {"role": m.role, "content": shown(m.content)} for m in plan.messages
        ]
        return plan.messages


async def _summary(ctx: TurnContext, turns: Sequence[MessageRecord]) -> str | None:
    """A summary of the turns that no longer fit, cached per app and conversation."""
    app = ctx.app
    key = (ctx.conversation_id, turns[-1].id)
    cached = app.summaries.get(key)
    if cached is not None:
        return cached
    assert app.model is not None
    try:
        completion = await app.model.complete(summary_prompt(turns, ctx.language), SUMMARY_SAMPLING)
    except ProviderError as exc:
        log.warning("could not summarise the conversation: %s", exc.message)
        return None
    return app.summaries.put(key, strip_think(completion.text).strip())


def _show(
    text: str, state: AnswerState, record: dict[str, Any], started: float
) -> list[AnswerDelta]:
    """Text cleared for the customer (leading whitespace dropped) as a delta."""
    if not state.parts:
        text = text.lstrip()
    if not text:
        return []
    if not state.parts:
        record["first_token_ms"] = round((time.perf_counter() - started) * 1000, 3)
    state.parts.append(text)
    return [AnswerDelta(text)]


async def stream_answer(
    model: ChatModel,
    messages: Sequence[ChatMessage],
    ctx: TurnContext,
    state: AnswerState,
    stopped: Any,
    sampling: SamplingConfig | None = None,
) -> AsyncGenerator[AnswerDelta | AnswerReplace, None]:
    """Stream the model's answer without its thinking; on failure, the extractive one.

    ``sampling`` replaces the app's for this answer (a caller's temperature, max_tokens)."""
    record: dict[str, Any] = {"name": "generate", "model": model.name}
    started = time.perf_counter()
    record["started_ms"] = round(ctx.trace.elapsed_ms(), 3)
    stripper = ThinkStripper()
    words = ctx.app.sensitive
    guard = StreamGuard(words) if words is not None else None
    span = start_child(ctx.trace.span, "generate")
    # Text that could begin a recital of the instructions is held back until it is settled.
    leak = LeakGuard([ctx.app.config.persona, *POLICY.values()])
    chunks = model.stream(messages, sampling or ctx.app.config.llm.sampling)
    try:
        ended = False
        async for chunk in chunks:
            if chunk.usage is not None:
                state.usage = chunk.usage
            if chunk.text:
                record["chunks"] = record.get("chunks", 0) + 1
            if chunk.finish_reason:
                record["finish_reason"] = state.finish_reason = chunk.finish_reason
            visible = stripper.feed(chunk.text)
            if guard is not None:
                visible = guard.feed(visible)
            for event in _show(leak.feed(visible), state, record, started):
                yield event
            if (guard is not None and guard.hit is not None) or leak.leaked:
                break
            if stopped.is_set():
                break
        else:
            ended = True
        if ended:
            tail = stripper.finish()
            if guard is not None:
                tail = guard.feed(tail) + guard.finish()
            if guard is None or guard.hit is None:
                tail = leak.feed(tail) + leak.finish()
            for event in _show(tail, state, record, started):
                yield event
        if guard is not None and guard.hit is not None:
            # The answer said something it must not: take back what was sent.
            record["output_sensitive_words"] = [guard.hit.word]
            blocked = ctx.app.config.replies.blocked.get(ctx.language)
            state.parts[:] = [blocked]
            state.finish_reason = None  # a preset reply, whole, not the model's words
            yield AnswerReplace(blocked)
        elif leak.leaked:
            # The model recited its instructions (prompt extraction got through).
            record["leaked_system_prompt"] = True
            refused = ctx.app.config.replies.refused.get(ctx.language)
            state.parts[:] = [refused]
            state.finish_reason = None
            yield AnswerReplace(refused)
    except ProviderError as exc:
        record["error"] = exc.message
        ctx.trace.facts["fallback"] = "extractive"
        metrics.llm_fallback(model.name, "extractive")
        if state.parts:
            state.parts[:] = [ctx.answer]
            yield AnswerReplace(ctx.answer)
        else:
            for piece in split_for_streaming(ctx.answer):
                state.parts.append(piece)
                yield AnswerDelta(piece)
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
        if state.usage.total_tokens == 0 and state.parts and "error" not in record:
            # Some servers (llama.cpp) send no usage when streaming: estimate it.
            state.usage = Usage(
                sum(estimate_tokens(m.content) for m in messages), record.get("chunks", 0)
            )
            record["usage_estimated"] = True
        record["model"] = getattr(model, "last_used", "") or model.name
        record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        record["usage"] = {
            "prompt_tokens": state.usage.prompt_tokens,
            "completion_tokens": state.usage.completion_tokens,
        }
        if "error" not in record:
            cited = cited_sources(state.text, len(ctx.sources))
            record["citations"] = cited
            # A factual answer that names no source may be invented: flag it for review.
            record["uncited"] = not cited and bool(state.text.strip())
        ctx.trace.stages.append(record)
        _observe(record, state, span)


def _observe(record: dict[str, Any], state: AnswerState, span: Any) -> None:
    """The generation's metrics (time to first token, tokens, time) and its span."""
    model = record["model"]
    if "first_token_ms" in record:
        metrics.llm_first_token(model, record["first_token_ms"] / 1000)
    metrics.llm_tokens(model, state.usage.prompt_tokens, state.usage.completion_tokens)
    metrics.stage_timed("generate", record["duration_ms"] / 1000)
    end_span(
        span,
        {
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": state.usage.prompt_tokens,
            "gen_ai.usage.output_tokens": state.usage.completion_tokens,
        },
        error=record.get("error"),
    )


IMAGE_NOTE = {"zh": "[顾客发送了一张图片]", "en": "[the customer sent an image]"}


def with_image_note(question: str, images: int, language: str) -> str:
    """The question as a model that cannot see images reads it: with a note per image."""
    note = IMAGE_NOTE["zh" if language == "zh" else "en"]
    return "\n".join([question, *[note] * images]) if images else question
