"""Answers written by a model: rewrite follow-ups, build the grounded prompt, stream it.

Everything here degrades instead of failing: a failed rewrite keeps the question as typed,
a failed summary drops the old turns, and a failed generation delivers the extractive
answer (replacing any partial text with Dify's ``message_replace``).
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from kefu.appfile.llm_config import SamplingConfig
from kefu.core.errors import ProviderError
from kefu.core.records import MessageRecord
from kefu.engine.app import AppRuntime
from kefu.engine.pipeline import TurnContext
from kefu.engine.prompt import (
    POLICY,
    Budget,
    build_prompt,
    cited_sources,
    estimate_tokens,
    guard_prompt,
    rewrite_prompt,
    summary_prompt,
)
from kefu.llm.base import ChatMessage, ChatModel, Usage
from kefu.llm.profiles import ThinkStripper, strip_think
from kefu.safety.injection import leaks_secret
from kefu.safety.pii import mask_pii
from kefu.safety.stream_guard import StreamGuard

__all__ = [
    "AnswerDelta",
    "AnswerReplace",
    "AnswerState",
    "Generator",
    "SamplingOverride",
    "split_for_streaming",
]

log = logging.getLogger(__name__)

REWRITE_SAMPLING = SamplingConfig(temperature=0.0, max_tokens=96)
SUMMARY_SAMPLING = SamplingConfig(temperature=0.0, max_tokens=256)
GUARD_SAMPLING = SamplingConfig(temperature=0.0, max_tokens=4)
SUMMARY_CACHE_SIZE = 1024
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


def _prompt_masker(app: AppRuntime) -> Callable[[str], str]:
    """PII never reaches a model unless the app allows it (``safety.mask_pii_in_prompts``)."""
    return mask_pii if app.config.safety.mask_pii_in_prompts else str


def _masked_turn(turn: MessageRecord, mask: Callable[[str], str]) -> MessageRecord:
    return replace(turn, query=mask(turn.query), answer=mask(turn.answer))


class Generator:
    """Model calls of a turn; the summaries of long conversations are cached per process."""

    def __init__(self) -> None:
        self._summaries: OrderedDict[tuple[str, str], str] = OrderedDict()

    async def rewrite(
        self, app: AppRuntime, ctx: TurnContext, history: Sequence[MessageRecord]
    ) -> None:
        """Make a follow-up ("那运费呢?") a standalone question for retrieval."""
        model = app.model
        if model is None or not history or not app.config.llm.rewrite_query:
            return
        with ctx.trace.stage("rewrite") as record:
            mask = _prompt_masker(app)
            try:
                completion = await model.complete(
                    rewrite_prompt([_masked_turn(t, mask) for t in history], mask(ctx.query)),
                    REWRITE_SAMPLING,
                )
            except ProviderError as exc:
                record["error"] = exc.message
                return
            rewritten = strip_think(completion.text).strip().splitlines()
            if rewritten and 0 < len(rewritten[0]) <= 4 * len(ctx.query) + 200:
                ctx.search_query = rewritten[0].strip()
            record.update(search_query=ctx.search_query, tokens=completion.usage.total_tokens)

    async def screen(self, app: AppRuntime, ctx: TurnContext) -> bool:
        """The optional model guard (``safety.llm_guard``): False means refuse politely.

        A model that cannot answer does not block the customer (the heuristics already ran).
        """
        model = app.model
        if model is None or not app.config.safety.llm_guard:
            return True
        with ctx.trace.stage("llm_guard") as record:
            mask = _prompt_masker(app)
            try:
                completion = await model.complete(
                    guard_prompt(mask(ctx.query), app.config.description), GUARD_SAMPLING
                )
            except ProviderError as exc:
                record["error"] = exc.message
                return True
            verdict = strip_think(completion.text).strip().upper()
            record["verdict"] = verdict[:20]
            return not verdict.startswith("UNSAFE")

    async def plan(
        self,
        app: AppRuntime,
        ctx: TurnContext,
        history: Sequence[MessageRecord],
        conversation_id: str,
        sampling: SamplingConfig | None = None,
    ) -> list[ChatMessage]:
        """The grounded prompt, with a summary of turns that no longer fit."""
        config = app.config
        with ctx.trace.stage("prompt") as record:
            max_tokens = (sampling or config.llm.sampling).max_tokens
            budget = Budget(config.llm.context_window, max_tokens)
            mask = _prompt_masker(app)
            history = [_masked_turn(turn, mask) for turn in history]
            arguments: dict[str, Any] = {
                "persona": config.persona,
                "language": ctx.language,
                "sources": ctx.resources,
                "history": history,
                "question": mask(ctx.query),
                "budget": budget,
                "window_turns": config.limits.history_turns,
            }
            plan = build_prompt(**arguments)
            if plan.history_dropped and config.llm.summarize_history:
                dropped = list(history)[: plan.history_dropped]
                summary = await self._summary(app, conversation_id, dropped, ctx)
                if summary:
                    plan = build_prompt(**arguments, summary=summary)
                    record["summarised_turns"] = len(dropped)
            record.update(
                history_turns=plan.history_used,
                history_dropped=plan.history_dropped,
                prompt_tokens_estimate=plan.prompt_tokens_estimate,
                sources=len(ctx.resources),
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

    async def _summary(
        self,
        app: AppRuntime,
        conversation_id: str,
        turns: Sequence[MessageRecord],
        ctx: TurnContext,
    ) -> str | None:
        key = (conversation_id, turns[-1].id)
        if key in self._summaries:
            self._summaries.move_to_end(key)
            return self._summaries[key]
        assert app.model is not None
        try:
            completion = await app.model.complete(
                summary_prompt(turns, ctx.language), SUMMARY_SAMPLING
            )
        except ProviderError as exc:
            log.warning("could not summarise the conversation: %s", exc.message)
            return None
        summary = strip_think(completion.text).strip()
        self._summaries[key] = summary
        while len(self._summaries) > SUMMARY_CACHE_SIZE:
            self._summaries.popitem(last=False)
        return summary

    @staticmethod
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

    async def stream(
        self,
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
                for event in self._show(visible, state, record, started):
                    yield event
                if guard is not None and guard.hit is not None:
                    break
                if stopped.is_set():
                    break
            else:
                ended = True
            if ended:
                tail = stripper.finish()
                if guard is not None:
                    tail = guard.feed(tail) + guard.finish()
                for event in self._show(tail, state, record, started):
                    yield event
            if guard is not None and guard.hit is not None:
                # The answer said something it must not: take back what was sent.
                record["output_sensitive_words"] = [guard.hit.word]
                blocked = ctx.app.config.replies.blocked.get(ctx.language)
                state.parts[:] = [blocked]
                state.finish_reason = None  # a preset reply, whole, not the model's words
                yield AnswerReplace(blocked)
            elif leaks_secret(state.text, [ctx.app.config.persona, *POLICY.values()]):
                # The model recited its instructions (prompt extraction got through).
                record["leaked_system_prompt"] = True
                refused = ctx.app.config.replies.refused.get(ctx.language)
                state.parts[:] = [refused]
                state.finish_reason = None
                yield AnswerReplace(refused)
        except ProviderError as exc:
            record["error"] = exc.message
            ctx.trace.facts["fallback"] = "extractive"
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
                cited = cited_sources(state.text, len(ctx.resources))
                record["citations"] = cited
                # A factual answer that names no source may be invented: flag it for review.
                record["uncited"] = not cited and bool(state.text.strip())
            ctx.trace.stages.append(record)
